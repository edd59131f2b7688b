/**
 * Time is injected everywhere a decision depends on it, so the coordinator and the providers can run
 * on a virtual clock in tests and simulations (see clusterseed/testing).
 */
export interface TimerHandle {
  /** Cancels the timer; calling it twice is harmless. */
  cancel(): void;
  /** Lets the process exit while this timer is pending (background refreshes). */
  unref(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /**
   * Monotonic milliseconds (never jumps with the wall clock), for "how long since": lease ages. A
   * clock without it is monotonic itself (virtual clocks).
   */
  monotonic?(): number;
}

/** Monotonic time of `clock` (see Clock.monotonic). */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // CLOCK_MONOTONIC keeps counting while the process is stopped (SIGSTOP, a frozen VM), which is
  // exactly what a lease age must include.
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t), unref: () => void t.unref() };
  },
};

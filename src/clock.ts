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
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t), unref: () => void t.unref() };
  },
};

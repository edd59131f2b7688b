import type { Clock, TimerHandle } from '../clock.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A controllable clock: time moves only when the test says so. `advance(ms)` fires due timers in
 * time order and lets promise callbacks run between them, so async code driven by this clock behaves
 * as it would in real time.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => void (timer.cancelled = true), unref: () => {} };
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  #next(): Timer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let best: Timer | undefined;
    for (const t of this.#timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const t = this.#next();
      if (!t || t.at > target) break;
      this.#timers.splice(this.#timers.indexOf(t), 1);
      this.#now = Math.max(this.#now, t.at);
      t.fn();
      await flushMicrotasks();
    }
    this.#now = target;
  }

  /** Advances in steps until `predicate()` holds or `maxMs` pass; returns whether it held. */
  async advanceUntil(predicate: () => boolean, maxMs: number, stepMs = 10): Promise<boolean> {
    const end = this.#now + maxMs;
    while (!predicate()) {
      if (this.#now >= end) return false;
      await this.advance(Math.min(stepMs, end - this.#now));
    }
    return true;
  }
}

/** Lets queued promise callbacks (several hops deep) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

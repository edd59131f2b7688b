import type { Clock, TimerHandle } from '../../src/clock.js';

interface Timer { at: number; seq: number; fn: () => void; cancelled: boolean }

/**
 * A virtual clock for the simulation: a binary heap of timers and a coarse tick (due times round up
 * to `quantumMs`), so hundreds of thousands of scenarios run in minutes. Between ticks it lets every
 * pending promise callback run (one macrotask turn drains the microtask queue), so async code behaves
 * as it would on real time, only with timers firing up to one quantum late, as real timers may.
 */
export class SimClock implements Clock {
  #now = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];
  readonly quantumMs: number;

  constructor(quantumMs = 5) {
    this.quantumMs = quantumMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const at = Math.ceil((this.#now + Math.max(0, ms)) / this.quantumMs) * this.quantumMs;
    const timer: Timer = { at, seq: this.#seq++, fn, cancelled: false };
    this.#push(timer);
    return { cancel: () => void (timer.cancelled = true), unref: () => {} };
  }

  /** Runs timers in time order until `done()` holds, no timer is left, or virtual time passes `maxMs`. */
  async run(done: () => boolean, maxMs: number): Promise<void> {
    await drain();
    while (!done()) {
      const next = this.#peek();
      if (!next || next.at > maxMs) break;
      this.#now = next.at;
      while (this.#peek()?.at === this.#now) {
        const t = this.#pop()!;
        t.fn();
      }
      await drain();
    }
  }

  #peek(): Timer | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    return this.#heap[0];
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** One macrotask turn: every queued promise callback (however deep the chain) has run after it. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

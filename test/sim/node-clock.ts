import type { Clock, TimerHandle } from '../../src/clock.js';

interface Deferred { at: number; seq: number; fn: () => void }

/**
 * One node's view of a shared clock, which can be frozen the way SIGSTOP, a long GC pause or a
 * suspended VM freezes a process: time goes on (now() keeps moving), but nothing of the node runs.
 * Timers that fall due while frozen, and every answer delivered to the node through this clock, wait;
 * on resume they run in the order they fell due, with the node's old state, as a resumed process does.
 */
export class NodeClock implements Clock {
  readonly #base: Clock;
  #frozen = false;
  #seq = 0;
  #deferred: Deferred[] = [];

  constructor(base: Clock) {
    this.#base = base;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  now(): number {
    return this.#base.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    let cancelled = false;
    const run = () => { if (!cancelled) fn(); };
    const handle = this.#base.setTimeout(() => {
      if (this.#frozen) this.#deferred.push({ at: this.#base.now(), seq: this.#seq++, fn: run });
      else run();
    }, ms);
    return { cancel: () => { cancelled = true; handle.cancel(); }, unref: () => {} };
  }

  freeze(): void {
    this.#frozen = true;
  }

  /** Everything that fell due while frozen runs now, in order (on the next tick of the base clock). */
  resume(): void {
    this.#frozen = false;
    const due = this.#deferred.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.#deferred = [];
    for (const d of due) this.#base.setTimeout(d.fn, 0);
  }
}

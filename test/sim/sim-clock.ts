import type { Clock, TimerHandle } from '../../src/clock.js';

/** A timer is its own handle (a class, not closures: the simulation creates millions of them). */
class Timer implements TimerHandle {
  cancelled = false;
  constructor(
    public at: number,
    public seq: number,
    readonly fn: () => void,
    readonly owner: NodeClock | undefined,
  ) {}
  cancel(): void {
    this.cancelled = true;
  }
  unref(): void {}
}

/**
 * A virtual clock for the simulation: a binary heap of timers and a coarse tick (due times round up
 * to `quantumMs`), so hundreds of thousands of scenarios run in minutes. Between ticks it lets every
 * pending promise callback run (one macrotask turn drains the microtask queue), so async code behaves
 * as it would on real time, only with timers firing up to one quantum late, as real timers may.
 * Each node runs on a NodeClock of it, which can be frozen (see there).
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
    return this.schedule(fn, ms, undefined);
  }

  /** A clock for one node: its timers, and every answer delivered to it, wait while it is frozen. */
  node(): NodeClock {
    return new NodeClock(this);
  }

  /** @internal (NodeClock) */
  schedule(fn: () => void, ms: number, owner: NodeClock | undefined): Timer {
    const at = Math.ceil((this.#now + Math.max(0, ms)) / this.quantumMs) * this.quantumMs;
    const timer = new Timer(at, this.#seq++, fn, owner);
    this.#push(timer);
    return timer;
  }

  /** @internal (NodeClock.resume): runs deferred timers on the next tick, in the order they fell due. */
  requeue(timers: Timer[]): void {
    const at = Math.ceil((this.#now + 1) / this.quantumMs) * this.quantumMs;
    for (const t of timers) {
      t.at = at;
      t.seq = this.#seq++;
      this.#push(t);
    }
  }

  /** Runs timers in time order until `done()` holds, no timer is left, or virtual time passes `maxMs` (which may move). */
  async run(done: () => boolean, maxMs: number | (() => number)): Promise<void> {
    const limit = typeof maxMs === 'number' ? () => maxMs : maxMs;
    await drain();
    while (!done()) {
      const next = this.#peek();
      if (!next || next.at > limit()) break;
      this.#now = next.at;
      while (this.#peek()?.at === this.#now) {
        const t = this.#pop()!;
        if (t.owner?.frozen) t.owner.defer(t);
        else t.fn();
      }
      await drain();
    }
  }

  /** Moves time forward by `ms`, running what falls due (for tests written against VirtualClock's advance). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await this.run(() => false, target);
    this.#now = Math.max(this.#now, target);
  }

  /** Timers still pending (not cancelled). */
  get pending(): number {
    return this.#heap.filter((t) => !t.cancelled).length;
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
        const l = 2 * i + 1,
          r = l + 1;
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

/**
 * One node's view of the SimClock, which can be frozen the way SIGSTOP, a long GC pause or a
 * suspended VM freezes a process: time goes on (now() keeps moving), but nothing of the node runs.
 * Timers that fall due while it is frozen, and every answer delivered to the node through this clock,
 * wait; on resume they run in the order they fell due, with the node's old state, as a resumed
 * process does.
 */
export class NodeClock implements Clock {
  readonly #base: SimClock;
  #frozen = false;
  #deferred: Timer[] = [];

  constructor(base: SimClock) {
    this.#base = base;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  now(): number {
    return this.#base.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#base.schedule(fn, ms, this);
  }

  freeze(): void {
    this.#frozen = true;
  }

  resume(): void {
    this.#frozen = false;
    const due = this.#deferred.filter((t) => !t.cancelled);
    this.#deferred = [];
    this.#base.requeue(due);
  }

  /** @internal (SimClock.run) */
  defer(t: Timer): void {
    this.#deferred.push(t);
  }
}

/** One macrotask turn: every queued promise callback (however deep the chain) has run after it. */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

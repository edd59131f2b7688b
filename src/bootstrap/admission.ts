/**
 * At most `limit` items in progress at once; the rest wait in order. The coordinator passes its
 * first contacts through one (FIRST_CONTACTS): a node that discovers a large set would otherwise
 * open a connection to every point in the same tick, and when many nodes share a machine (or a
 * node's CPU is small) those bursts make every probe time out while its own event loop is busy
 * setting up the others, a collapse rather than a delay. Probes of peers that answered before reuse
 * their keep-alive connection and do not wait here.
 */
export class Admission<T> {
  readonly #limit: number;
  /** Starts an admitted item; returns false when the item no longer needs to run (no slot taken). */
  readonly #start: (item: T) => boolean;
  #active = 0;
  #queue: T[] = [];

  constructor(limit: number, start: (item: T) => boolean) {
    this.#limit = limit;
    this.#start = start;
  }

  /** Starts `item` now when a slot is free, else when one frees (first come, first started). */
  submit(item: T): void {
    this.#queue.push(item);
    this.#drain();
  }

  /** An admitted item finished: its slot goes to the next waiting one. */
  release(): void {
    this.#active = Math.max(0, this.#active - 1);
    this.#drain();
  }

  /** Forgets every waiting item (slots in use are released by their items). */
  clear(): void {
    this.#queue = [];
  }

  get waiting(): number {
    return this.#queue.length;
  }

  #drain(): void {
    while (this.#active < this.#limit && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      this.#active++;
      if (!this.#start(item)) this.#active--;
    }
  }
}

/**
 * First contacts in flight per node. A cluster of up to 9 is contacted all at once; at N = 200 on 2
 * CPUs (docs/performance.md, "Scale") 32 still kept 6,400 first probes in flight, longer in the
 * queues of the busy event loops than the probe timeout, and 8 let the cluster form.
 */
export const FIRST_CONTACTS = 8;

/**
 * How soon a peer that never answered is probed again after a failed probe, when probeIntervalMs is
 * longer. Its first answer is what formation waits for, and a first contact fails mostly because the
 * peer is still starting (503) or, on a busy machine, too slow once: waiting a whole interval of a
 * large cluster's pacing (30 s) for the retry made formation wait for it. The retry goes through the
 * admission again, so retries never add to the first contacts in flight.
 */
export const FIRST_CONTACT_RETRY_MS = 1000;

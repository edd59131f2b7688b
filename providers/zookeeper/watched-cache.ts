import type { Watcher } from 'node-zookeeper-client';
import type { ZkSession } from './session.js';

/** Taken before a read that sets a watch; the value read is kept only if nothing happened since. */
export interface CacheMark {
  epoch: number;
  clears: number;
  session: ZkSession;
}

/**
 * Values read from ZooKeeper together with the watch their read set, by path, kept until that watch
 * fires. ZooKeeper delivers a watch event to the client before the answer of any request it sends
 * after the change, so a kept value is as current as a new read would be for every read after it.
 * The owner clears everything when a watch may have been lost or be late: the connection dropped or a
 * new session replaced an expired one. A value read while its watch fired (or the cache was cleared)
 * is returned but not kept: the event may be for a change the read did not see.
 */
export class WatchedCache<T> {
  readonly #entries = new Map<string, { value: T; session: ZkSession }>();
  readonly #epochs = new Map<string, number>();
  readonly #watchers = new Map<string, Watcher>();
  readonly #onFire: (key: string) => void;
  #clears = 0;

  /** `onFire` runs after a watch of this cache fired (and its value was dropped). */
  constructor(onFire: (key: string) => void = () => {}) {
    this.#onFire = onFire;
  }

  /** The stable watcher of `key`: the client never stacks the same function twice on a path. */
  watcher(key: string): Watcher {
    let w = this.#watchers.get(key);
    if (!w) {
      w = () => {
        this.invalidate(key);
        this.#onFire(key);
      };
      this.#watchers.set(key, w);
    }
    return w;
  }

  /** The kept value of `key` in `session`, if any. */
  get(key: string, session: ZkSession): { value: T } | undefined {
    const kept = this.#entries.get(key);
    return kept && kept.session === session ? { value: kept.value } : undefined;
  }

  mark(key: string, session: ZkSession): CacheMark {
    return { epoch: this.#epochs.get(key) ?? 0, clears: this.#clears, session };
  }

  /** Keeps `value` (whose read set the watch of `key`) unless the watch fired or the cache was cleared since `mark`. */
  keep(key: string, mark: CacheMark, value: T): void {
    if (mark.epoch === (this.#epochs.get(key) ?? 0) && mark.clears === this.#clears) this.#entries.set(key, { value, session: mark.session });
  }

  /**
   * The kept value of `key`, else `read(watcher)` — a request that sets `watcher` — whose answer is
   * kept when `keepable(answer)` (false: the request set no watch, e.g. a listing of a missing node).
   */
  async read(key: string, session: ZkSession, read: (watcher: Watcher) => Promise<T>, keepable: (value: T) => boolean = () => true): Promise<T> {
    const kept = this.get(key, session);
    if (kept) return kept.value;
    const mark = this.mark(key, session);
    const value = await read(this.watcher(key));
    if (keepable(value)) this.keep(key, mark, value);
    return value;
  }

  invalidate(key: string): void {
    this.#epochs.set(key, (this.#epochs.get(key) ?? 0) + 1);
    this.#entries.delete(key);
  }

  clear(): void {
    this.#clears++;
    this.#entries.clear();
  }
}

import { abortReason } from '../backoff.js';
import type { Clock } from '../clock.js';

/**
 * A change counter shared by a watch (ZooKeeper watcher, etcd watch stream, fs.watch) and the code
 * that waits for changes. The reader notes `version` before reading the record; `waitSince(v)`
 * resolves at once when a change arrived in between, so an event between the read and the wait is
 * never lost.
 */
export class ChangeSignal {
  #version = 0;
  #waiters = new Set<() => void>();

  get version(): number {
    return this.#version;
  }

  bump(): void {
    this.#version++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves when the version moves past `since`, after `maxWaitMs`, or rejects when `signal` fires. */
  waitSince(since: number, maxWaitMs: number, clock: Clock, signal?: AbortSignal): Promise<void> {
    if (this.#version !== since) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const done = () => {
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(done);
        resolve();
      };
      const onAbort = () => {
        timer.cancel();
        this.#waiters.delete(done);
        reject(abortReason(signal!));
      };
      const timer = clock.setTimeout(done, maxWaitMs);
      this.#waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

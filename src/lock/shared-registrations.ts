import type { Registration } from '../types.js';

/**
 * Registrations of the same point shared by reference count. With the `lock` strategy bootstrap()
 * registers the node and runLockStrategy() registers the same point again; on a registry whose
 * registration is a refreshed record (Consul's TTL check, the file provider's entry file) each would
 * otherwise write it again and run its own refresh loop. Here the first register() of a key creates
 * the registration and later ones get a handle on it (no request, no second loop); the registration
 * is closed (deregistered) when the last handle closes, so closing the strategy's copy leaves the
 * bootstrap's in place. etcd and ZooKeeper get the same effect from OwnedEntries (same key and value
 * in the same lease/session: no second write).
 */
export class SharedRegistrations {
  readonly #entries = new Map<string, Entry>();
  /** Deregistrations in flight, by key: a new registration of the key waits for them. */
  readonly #closing = new Map<string, Promise<void>>();

  /** How many distinct registrations are open (for tests and logs). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A handle on the registration of `key`, created by `create` when there is none (or none left).
   * A caller that joined another caller's creation, which then failed (e.g. its signal aborted),
   * tries once more with its own `create`.
   */
  async acquire(key: string, create: () => Promise<Registration>, signal?: AbortSignal): Promise<Registration> {
    for (;;) {
      signal?.throwIfAborted();
      let entry = this.#entries.get(key);
      const joined = entry !== undefined;
      if (entry === undefined) {
        const previous = this.#closing.get(key);
        const created: Entry = { refs: 0, pending: (previous ?? Promise.resolve()).then(create) };
        entry = created;
        this.#entries.set(key, created);
        created.pending.catch(() => {
          if (this.#entries.get(key) === created) this.#entries.delete(key);
        });
      }
      entry.refs += 1;
      let inner: Registration;
      try {
        inner = await entry.pending;
      } catch (err) {
        entry.refs -= 1;
        if (joined && !signal?.aborted) continue;
        throw err;
      }
      return this.#handle(key, entry, inner);
    }
  }

  /** Closes every registration whatever its holders (the provider is closing). */
  async closeAll(): Promise<void> {
    const entries = [...this.#entries.entries()];
    this.#entries.clear();
    await Promise.all(
      entries.map(async ([key, entry]) => {
        entry.refs = 0;
        const inner = await entry.pending.catch(() => undefined);
        if (inner) await this.#close(key, inner);
      }),
    );
    await Promise.all(this.#closing.values());
  }

  #handle(key: string, entry: Entry, inner: Registration): Registration {
    let closed = false;
    return {
      self: inner.self,
      close: async () => {
        if (closed) return;
        closed = true;
        entry.refs -= 1;
        if (entry.refs > 0) return;
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
        await this.#close(key, inner);
      },
    };
  }

  #close(key: string, inner: Registration): Promise<void> {
    const closing = inner.close().finally(() => {
      if (this.#closing.get(key) === closing) this.#closing.delete(key);
    });
    this.#closing.set(key, closing);
    return closing;
  }
}

interface Entry {
  refs: number;
  pending: Promise<Registration>;
}

import { formatHostPort } from '../address.js';
import { backoffDelay, sleep } from '../backoff.js';
import type { ContactPoint, ProviderContext, Registration } from '../types.js';
import { encodePoint } from './codec.js';

/**
 * The backend side of OwnedEntries: entries live in a "generation" (an etcd lease id, a ZooKeeper
 * session) and vanish with it, so a crashed node releases everything.
 */
export interface OwnedEntriesBackend<G> {
  /** Log prefix (`etcd`, `zookeeper`) and the log field naming an entry (`key`, `znode`). */
  readonly name: string;
  readonly keyField: string;
  /** The generation new entries go to (granted on first use); rejects with a typed error. */
  generation(signal?: AbortSignal): Promise<G>;
  /** Writes one entry in `generation`; may throw the client's raw error. */
  write(generation: G, key: string, value: string, signal?: AbortSignal): Promise<void>;
  /** The typed error for a failed write of `key`. */
  writeError(key: string, err: unknown): Error;
  /** Deletes one entry; never throws (a failure is logged: the entry goes with its generation). */
  remove(key: string): Promise<void>;
  /** Logs a successful re-registration (the wording is the provider's, documented per provider). */
  logReRegistered(generation: G, count: number): void;
}

/**
 * The entries (registrations, members) a node owns in a lease/session-bound registry: remembered so
 * that after the lease/session is lost they are written again in the new one (with back-off until it
 * works or the provider closes), and deleted on a graceful close.
 */
export class OwnedEntries<G> {
  readonly #backend: OwnedEntriesBackend<G>;
  readonly #context: ProviderContext;
  /** key → value of every entry this node owns. */
  readonly #entries = new Map<string, string>();
  /** Entries not written again after a loss (members: the lock strategy re-adds them once it checked the record). */
  readonly #volatile = new Set<string>();
  /** The generation each entry was last written in (an entry of a lost generation is gone). */
  readonly #writtenIn = new Map<string, G>();
  /** Bumped by each reRegister(): a newer loss supersedes the retry loop of an older one. */
  #round = 0;
  #closed = false;
  /** Aborted by close(): stops a re-registration back-off at once. */
  readonly #closing = new AbortController();

  constructor(backend: OwnedEntriesBackend<G>, context: ProviderContext) {
    this.#backend = backend;
    this.#context = context;
  }

  get size(): number {
    return this.#entries.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes an owned entry in the current generation and remembers it (`restore`: again after a loss [true]). */
  async put(key: string, value: string, signal?: AbortSignal, { restore = true }: { restore?: boolean } = {}): Promise<void> {
    const generation = await this.#backend.generation(signal);
    // Registering twice (bootstrap() and the lock strategy both do) costs no second write.
    if (this.#entries.get(key) === value && this.#writtenIn.get(key) === generation) return;
    this.#entries.set(key, value);
    if (restore) this.#volatile.delete(key);
    else this.#volatile.add(key);
    try {
      await this.#backend.write(generation, key, value, signal);
      this.#writtenIn.set(key, generation);
    } catch (err) {
      throw this.#backend.writeError(key, err);
    }
  }

  async delete(key: string): Promise<void> {
    this.#writtenIn.delete(key);
    this.#volatile.delete(key);
    if (!this.#entries.delete(key)) return;
    await this.#backend.remove(key);
  }

  /** Writes every owned entry again in the current generation, retrying with back-off. */
  async reRegister(): Promise<void> {
    const round = ++this.#round;
    for (let attempt = 0; !this.#closed && round === this.#round; attempt++) {
      try {
        const generation = await this.#backend.generation();
        await Promise.all(
          [...this.#entries]
            .filter(([key]) => !this.#volatile.has(key))
            .map(async ([key, value]) => {
              await this.#backend.write(generation, key, value);
              this.#writtenIn.set(key, generation);
            }),
        );
        this.#backend.logReRegistered(generation, this.#entries.size);
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { maxMs: 5000 });
        this.#context.logger.warn({ error: (err as Error).message, retryInMs: delay }, `${this.#backend.name}: re-registering failed`);
        await sleep(delay, this.#closing.signal, this.#context.clock).catch(() => {});
      }
    }
  }

  /** Registers `self` at `nodeKey`; closing it also removes the member entry at `memberKey`. */
  async register(self: ContactPoint, keys: { node: string; member: string }, signal?: AbortSignal): Promise<Registration> {
    const { name, keyField } = this.#backend;
    await this.put(keys.node, encodePoint(self), signal);
    this.#context.logger.debug({ [keyField]: keys.node }, `${name}: registered`);
    let closed = false;
    return {
      self,
      close: async () => {
        if (closed) return;
        closed = true;
        // Graceful close: the member entry goes with the registration (a crash lets the lease/session do it).
        await Promise.all([this.delete(keys.node), this.delete(keys.member)]);
        this.#context.logger.debug({ self: formatHostPort(self) }, `${name}: deregistered`);
      },
    };
  }

  /** Deletes every owned entry and stops re-registering; the provider then ends its lease/session. */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((k) => this.delete(k)));
    this.#closed = true;
    this.#closing.abort();
  }
}

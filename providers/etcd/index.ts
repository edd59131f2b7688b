import { canonicalize, formatHostPort } from '../../src/address.js';
import { backoffDelay, sleep } from '../../src/backoff.js';
import { bounded } from '../../src/lock/bounded.js';
import { decodePoint, encodePoint, pointKey } from '../../src/lock/codec.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type {
  ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions,
} from '../../src/types.js';
import { CALL_TIMEOUT_MS, createEtcdClient, etcdError, type Etcd3, type Lease } from './client.js';
import { EtcdSeedLock } from './seed-lock.js';
import { aliases, EtcdOptions, method } from './options.js';

/*
 * Keys: `<prefix><service>/nodes/<host:port>` (registrations) and `<prefix><service>/members/<host:port>`
 * are put on this process's one lease (TTL leaseTtlSeconds, kept alive by etcd3); the `lock` key too,
 * so a crashed node releases all of them when the lease expires. A lost lease (network partition
 * longer than the TTL, revoked by an operator) is replaced by a new one and the keys are put again.
 */
export class EtcdProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: EtcdOptions;
  readonly #context: ProviderContext;
  readonly client: Etcd3;
  /** Keys this node owns on its lease (registrations, members): put again after a lease loss. */
  readonly #owned = new Map<string, string>();
  /** The lease each owned key was last put on. */
  readonly #putOn = new Map<string, string>();
  #lease: { lease: Lease; id: Promise<string> } | undefined;
  #seedLock: EtcdSeedLock | undefined;
  #closed = false;
  /** Aborted by close(): stops a re-registration back-off at once. */
  readonly #closing = new AbortController();

  constructor(options: EtcdOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.client = createEtcdClient(options);
  }

  serviceBase(service: string): string {
    return `${this.#options.prefix}${encodeURIComponent(service)}/`;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const prefix = `${this.serviceBase(lookup.service)}nodes/`;
    let kvs: Record<string, string>;
    try {
      kvs = await bounded(`etcd: reading ${prefix}`, options.timeoutMs ?? CALL_TIMEOUT_MS, options.signal, () =>
        this.client.getAll().prefix(prefix).strings(),
      );
    } catch (err) {
      throw etcdError(`reading ${prefix}`, err);
    }
    const points: ContactPoint[] = [];
    for (const [key, value] of Object.entries(kvs)) {
      try {
        points.push(decodePoint(value, key));
      } catch (err) {
        this.#context.logger.warn({ key, error: (err as Error).message }, 'etcd: skipping malformed registration');
      }
    }
    return canonicalize(points);
  }

  /** The node's lease id, granted on first use and kept alive until close(). */
  leaseId(signal?: AbortSignal): Promise<string> {
    if (this.#closed) return Promise.reject(etcdError('lease', new Error('provider is closed')));
    if (!this.#lease) {
      const lease = this.client.lease(this.#options.leaseTtlSeconds, { autoKeepAlive: true });
      const id = bounded('etcd: granting a lease', CALL_TIMEOUT_MS, undefined, () => lease.grant());
      lease.on('lost', (err: Error) => this.#onLeaseLost(lease, err));
      // A failed grant is forgotten so the next caller tries again.
      id.catch(() => { if (this.#lease?.lease === lease) this.#lease = undefined; });
      this.#lease = { lease, id };
    }
    return bounded('etcd: granting a lease', CALL_TIMEOUT_MS, signal, () => this.#lease!.id).catch((err) => {
      throw etcdError('granting a lease', err);
    });
  }

  /** Puts a key on the node's lease and remembers it, so it survives a lease loss. */
  async putOwned(key: string, value: string, signal?: AbortSignal): Promise<void> {
    const id = await this.leaseId(signal);
    // Registering twice (bootstrap() and the lock strategy both do) costs no second write.
    if (this.#owned.get(key) === value && this.#putOn.get(key) === id) return;
    this.#owned.set(key, value);
    try {
      await bounded(`etcd: writing ${key}`, CALL_TIMEOUT_MS, signal, () => this.client.put(key).value(value).lease(id).exec());
      this.#putOn.set(key, id);
    } catch (err) {
      throw etcdError(`writing ${key}`, err);
    }
  }

  async deleteOwned(key: string): Promise<void> {
    this.#putOn.delete(key);
    if (!this.#owned.delete(key)) return;
    await bounded(`etcd: deleting ${key}`, CALL_TIMEOUT_MS, undefined, () => this.client.delete().key(key).exec()).catch((err: Error) =>
      this.#context.logger.warn({ key, error: err.message }, 'etcd: deleting a key failed; it expires with the lease'),
    );
  }

  #onLeaseLost(lease: Lease, err: Error): void {
    if (this.#closed || this.#lease?.lease !== lease) return;
    this.#lease = undefined;
    this.#context.logger.warn({ error: err?.message, keys: this.#owned.size }, 'etcd: lease lost; registering again on a new lease');
    void this.#reRegister();
  }

  async #reRegister(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const id = await this.leaseId();
        await Promise.all(
          [...this.#owned].map(async ([key, value]) => {
            await bounded(`etcd: writing ${key}`, CALL_TIMEOUT_MS, undefined, () => this.client.put(key).value(value).lease(id).exec());
            this.#putOn.set(key, id);
          }),
        );
        this.#context.logger.info({ lease: id, keys: this.#owned.size }, 'etcd: re-registered after lease loss');
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { maxMs: 5000 });
        this.#context.logger.warn({ error: (err as Error).message, retryInMs: delay }, 'etcd: re-registering failed');
        await sleep(delay, this.#closing.signal, this.#context.clock).catch(() => {});
      }
    }
  }

  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const key = `${this.serviceBase(options.service)}nodes/${pointKey(self)}`;
    const memberKey = `${this.serviceBase(options.service)}members/${pointKey(self)}`;
    await this.putOwned(key, encodePoint(self), options.signal);
    this.#context.logger.debug({ key }, 'etcd: registered');
    let closed = false;
    return {
      self,
      close: async () => {
        if (closed) return;
        closed = true;
        // Graceful close: the member entry goes with the registration (a crash lets the lease do it).
        await Promise.all([this.deleteOwned(key), this.deleteOwned(memberKey)]);
        this.#context.logger.debug({ self: formatHostPort(self) }, 'etcd: deregistered');
      },
    };
  }

  seedLock(): SeedLock {
    this.#seedLock ??= new EtcdSeedLock(this, this.#context);
    return this.#seedLock;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#owned.keys()].map((k) => this.deleteOwned(k)));
    this.#closed = true;
    this.#closing.abort();
    await this.#seedLock?.close();
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease) {
      await bounded('etcd: revoking the lease', CALL_TIMEOUT_MS, undefined, () => lease.lease.revoke()).catch(() => {});
    }
    this.client.close();
  }
}

export const definition: ProviderDefinition<EtcdOptions> = {
  method,
  aliases,
  options: EtcdOptions,
  create: (options, context) => new EtcdProvider(options, context),
};

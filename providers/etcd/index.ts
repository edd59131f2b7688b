import { canonicalize } from '../../src/address.js';
import { monotonicNow } from '../../src/clock.js';
import { SharedRegistrations } from '../../src/lock/shared-registrations.js';
import { bounded } from '../../src/lock/bounded.js';
import { decodePoint, pointKey } from '../../src/lock/codec.js';
import { OwnedEntries } from '../../src/lock/owned-entries.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type { ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions } from '../../src/types.js';
import type { ClusterseedError } from '../../src/errors.js';
import { CALL_TIMEOUT_MS, createEtcdClient, type Etcd3, type Lease } from './client.js';
import { classifyEtcdError, explainEtcdError } from './errors.js';
import { EtcdSeedLock } from './seed-lock.js';
import { aliases, EtcdOptions, method } from './options.js';
import { resolveEtcdSettings, type EtcdSettings } from './settings.js';

/*
 * Keys: `<prefix><service>/nodes/<host:port>` (registrations) and `<prefix><service>/members/<host:port>`
 * are put on this process's one lease (TTL leaseTtlSeconds, kept alive by etcd3); the `lock` key too,
 * so a crashed node releases all of them when the lease expires. A lost lease (network partition
 * longer than the TTL, revoked by an operator) is replaced by a new one and the keys are put again.
 */
export class EtcdProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: EtcdOptions;
  readonly #settings: EtcdSettings;
  readonly #context: ProviderContext;
  readonly client: Etcd3;
  /** Keys this node owns on its lease (registrations, members): put again after a lease loss. */
  readonly #registrations = new SharedRegistrations();
  readonly #owned: OwnedEntries<string>;
  #lease: { lease: Lease; id: Promise<string>; confirmedAt?: number } | undefined;
  #seedLock: EtcdSeedLock | undefined;

  /** Throws a ConfigError (before any connection) when ETCDCTL_* variables or the TLS files are unusable. */
  constructor(options: EtcdOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.#settings = resolveEtcdSettings(options, context.env);
    this.client = createEtcdClient(this.#settings);
    this.#owned = new OwnedEntries<string>(
      {
        name: 'etcd',
        keyField: 'key',
        generation: (signal) => this.leaseId(signal),
        write: (leaseId, key, value, signal) =>
          this.call(`writing ${key}`, CALL_TIMEOUT_MS, signal, () => this.client.put(key).value(value).lease(leaseId).exec()).then(() => {}),
        writeError: (key, err) => this.etcdError(`writing ${key}`, err),
        remove: (key) =>
          bounded(`etcd: deleting ${key}`, CALL_TIMEOUT_MS, undefined, () => this.client.delete().key(key).exec()).then(
            () => {},
            (err: Error) => this.#context.logger.warn({ key, error: err.message }, 'etcd: deleting a key failed; it expires with the lease'),
          ),
        logReRegistered: (lease, keys) => this.#context.logger.info({ lease, keys }, 'etcd: re-registered after lease loss'),
      },
      context,
    );
  }

  /** The typed error of a failed call (no TLS diagnosis: for callers that cannot wait). */
  etcdError(what: string, err: unknown): ClusterseedError {
    return classifyEtcdError(what, err, this.#settings);
  }

  /**
   * One etcd call bounded by `timeoutMs` and `signal`; a failure is a typed error. A connection failure
   * on https:// is explained (TLS and why) by one handshake of our own, inside the same deadline.
   */
  async call<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    try {
      return await bounded(`etcd: ${what}`, timeoutMs, signal, run);
    } catch (err) {
      if (signal?.aborted) throw classifyEtcdError(what, err, this.#settings);
      throw await explainEtcdError(what, err, this.#settings, Math.min(1500, deadline - Date.now()));
    }
  }

  serviceBase(service: string): string {
    return `${this.#options.prefix}${encodeURIComponent(service)}/`;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const prefix = `${this.serviceBase(lookup.service)}nodes/`;
    const kvs = await this.call(`reading ${prefix}`, options.timeoutMs ?? CALL_TIMEOUT_MS, options.signal, () => this.client.getAll().prefix(prefix).strings());
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
    if (this.#owned.closed) return Promise.reject(this.etcdError('lease', new Error('provider is closed')));
    if (!this.#lease) {
      const grantedFrom = monotonicNow(this.#context.clock);
      const lease = this.client.lease(this.#options.leaseTtlSeconds, { autoKeepAlive: true });
      const id = this.call('granting a lease', CALL_TIMEOUT_MS, undefined, () => lease.grant());
      lease.on('lost', (err: Error) => this.#onLeaseLost(lease, err));
      // When the latest renewal etcd confirmed was sent (see leaseConfirmedAt): the grant, then each
      // keepalive of the stream (answered in order, so an answer belongs to the oldest one unanswered).
      const fired: number[] = [];
      const confirm = (at: number | undefined) => {
        const current = this.#lease;
        if (at !== undefined && current?.lease === lease) current.confirmedAt = Math.max(current.confirmedAt ?? at, at);
      };
      void id.then(() => confirm(grantedFrom)).catch(() => {});
      lease.on('keepaliveFired', () => fired.push(monotonicNow(this.#context.clock)));
      lease.on('keepaliveSucceeded', () => confirm(fired.shift()));
      lease.on('keepaliveFailed', () => {
        fired.length = 0;
      });
      // A failed grant is forgotten so the next caller tries again. One that timed out may still be
      // granted later: revoke it, or its keepalive timer holds the process open after close().
      id.catch(() => {
        if (this.#lease?.lease === lease) this.#lease = undefined;
        void lease.revoke().catch(() => {});
      });
      this.#lease = { lease, id };
    }
    return bounded('etcd: granting a lease', CALL_TIMEOUT_MS, signal, () => this.#lease!.id).catch((err) => {
      throw this.etcdError('granting a lease', err);
    });
  }

  /** Puts a key on the node's lease and remembers it, so it survives a lease loss (unless `restore` is false). */
  putOwned(key: string, value: string, signal?: AbortSignal, options?: { restore?: boolean }): Promise<void> {
    return this.#owned.put(key, value, signal, options);
  }

  get leaseTtlMs(): number {
    return this.#options.leaseTtlSeconds * 1000;
  }

  /** One keep-alive round trip of the current lease; rejects when etcd says it is gone. */
  async confirmLease(signal?: AbortSignal): Promise<void> {
    const id = await this.leaseId(signal);
    const current = this.#lease;
    if (!current) throw this.etcdError('renewing the lease', new Error('the lease was lost'));
    const sentAt = monotonicNow(this.#context.clock);
    const res = await this.call('renewing the lease', CALL_TIMEOUT_MS, signal, () => current.lease.keepaliveOnce());
    const ttl = Number(res.TTL);
    if (!(ttl > 0)) throw this.etcdError('renewing the lease', new Error(`lease ${id} has expired`));
    if (this.#lease === current) current.confirmedAt = Math.max(current.confirmedAt ?? sentAt, sentAt);
  }

  /**
   * When (monotonic) the latest renewal of the current lease that etcd confirmed was sent — its grant
   * or a keepalive — or undefined (none yet, or the lease was lost).
   */
  get leaseConfirmedAt(): number | undefined {
    return this.#lease?.confirmedAt;
  }

  deleteOwned(key: string): Promise<void> {
    return this.#owned.delete(key);
  }

  #onLeaseLost(lease: Lease, err: Error): void {
    if (this.#owned.closed || this.#lease?.lease !== lease) return;
    this.#lease = undefined;
    this.#context.logger.warn({ error: err?.message, keys: this.#owned.size }, 'etcd: lease lost; registering again on a new lease');
    void this.#owned.reRegister();
  }

  register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const base = this.serviceBase(options.service);
    const node = `${base}nodes/${pointKey(self)}`;
    // Shared by reference count: closing the lock strategy's copy must not delete bootstrap()'s entry.
    return this.#registrations.acquire(
      node,
      () => this.#owned.register(self, { node, member: `${base}members/${pointKey(self)}` }, options.signal),
      options.signal,
    );
  }

  seedLock(): SeedLock {
    this.#seedLock ??= new EtcdSeedLock(this, this.#context);
    return this.#seedLock;
  }

  async close(): Promise<void> {
    if (this.#owned.closed) return;
    await this.#registrations.closeAll();
    await this.#owned.close();
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

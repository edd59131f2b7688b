import type { Watcher } from 'etcd3';
import { canonicalize } from '../../src/address.js';
import { bounded } from '../../src/lock/bounded.js';
import { ChangeSignal } from '../../src/lock/change-signal.js';
import { decodeFirstSeed, decodePoint, encodeFirstSeed, encodePoint, pointKey } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';
import { CALL_TIMEOUT_MS } from './client.js';
import type { EtcdProvider } from './index.js';

/*
 * `<prefix><service>/lock`: create-if-absent transaction (CreateRevision == 0) putting the holder on
 * its lease; release = delete-if-value-is-mine. `first-seed` is a plain key (its owner's liveness is
 * checked against the registrations by the strategy), written only by a transaction that also
 * compares the lock key's value and lease with ours and first-seed's revision with the one we read:
 * a holder whose lease expired (a pause, a partition) writes nothing. `members/<host:port>` live on
 * each member's lease. One watch stream per service covers lock, first-seed and members.
 */
export class EtcdSeedLock implements SeedLock {
  readonly #provider: EtcdProvider;
  readonly #context: ProviderContext;
  readonly #changes = new Map<string, ChangeSignal>();
  readonly #watchers = new Map<string, Promise<Watcher>>();
  readonly #readVersion = new Map<string, number>();

  constructor(provider: EtcdProvider, context: ProviderContext) {
    this.#provider = provider;
    this.#context = context;
  }

  #keys(service: string) {
    const base = this.#provider.serviceBase(service);
    return { base, lock: `${base}lock`, firstSeed: `${base}first-seed`, members: `${base}members/` };
  }

  #signal(service: string): ChangeSignal {
    let s = this.#changes.get(service);
    if (!s) this.#changes.set(service, (s = new ChangeSignal()));
    return s;
  }

  /** Starts (once) the watch on the service's keys; registration churn under nodes/ is ignored. */
  async #watch(service: string, signal?: AbortSignal): Promise<void> {
    const keys = this.#keys(service);
    let watcher = this.#watchers.get(service);
    if (!watcher) {
      const changes = this.#signal(service);
      const onEvent = (kv: { key: Buffer }, released: boolean) => {
        const key = kv.key.toString();
        // The lock matters to a waiter when it is released (taking it is the holder's business).
        if ((key === keys.lock && released) || key === keys.firstSeed || key.startsWith(keys.members)) changes.bump();
      };
      watcher = this.#provider.client
        .watch()
        .prefix(keys.base)
        .create()
        .then((w) => {
          w.on('put', (kv) => onEvent(kv, false));
          w.on('delete', (kv) => onEvent(kv, true));
          // After a reconnect etcd3 resumes the watch; bump so waiters re-read what they may have missed.
          w.on('connected', () => changes.bump());
          w.on('error', (err: Error) => this.#context.logger.debug({ error: err.message }, 'etcd: watch error (etcd3 reconnects)'));
          return w;
        });
      watcher.catch(() => this.#watchers.delete(service));
      this.#watchers.set(service, watcher);
    }
    await this.#provider.call(`watching ${keys.base}`, CALL_TIMEOUT_MS, signal, () => watcher!);
  }

  async readRecord({ service, signal }: SeedLockOptions): Promise<ClusterRecord> {
    const keys = this.#keys(service);
    await this.#watch(service, signal);
    this.#readVersion.set(service, this.#signal(service).version);
    const client = this.#provider.client;
    const [firstSeedText, memberKvs] = await this.#provider.call(`reading ${keys.base}`, CALL_TIMEOUT_MS, signal, () =>
      Promise.all([client.get(keys.firstSeed).string(), client.getAll().prefix(keys.members).strings()]),
    );
    const members: ContactPoint[] = [];
    for (const [key, value] of Object.entries(memberKvs)) {
      try {
        members.push(decodePoint(value, key));
      } catch (err) {
        this.#context.logger.warn({ key, error: (err as Error).message }, 'etcd: skipping malformed member entry');
      }
    }
    const record: ClusterRecord = { members: canonicalize(members) };
    if (firstSeedText !== null) record.firstSeed = decodeFirstSeed(firstSeedText, keys.firstSeed);
    return record;
  }

  async readFirstSeed({ service, signal }: SeedLockOptions): Promise<FirstSeed | undefined> {
    const keys = this.#keys(service);
    await this.#watch(service, signal);
    this.#readVersion.set(service, this.#signal(service).version);
    const text = await this.#provider.call(`reading ${keys.firstSeed}`, CALL_TIMEOUT_MS, signal, () => this.#provider.client.get(keys.firstSeed).string());
    return text === null ? undefined : decodeFirstSeed(text, keys.firstSeed);
  }

  get leaseTtlMs(): number {
    return this.#provider.leaseTtlMs;
  }

  confirmedAt(): number | undefined {
    return this.#provider.leaseConfirmedAt;
  }

  confirmLease({ signal }: SeedLockOptions): Promise<void> {
    return this.#provider.confirmLease(signal);
  }

  async tryLock(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<HeldLock | undefined> {
    const { lock } = this.#keys(service);
    const value = encodePoint(self, false);
    const leaseId = await this.#provider.leaseId(signal);
    const client = this.#provider.client;
    let acquired: boolean;
    try {
      const res = await this.#provider.call(`acquiring ${lock}`, CALL_TIMEOUT_MS, signal, () =>
        client.if(lock, 'Create', '==', 0).then(client.put(lock).value(value).lease(leaseId)).else(client.get(lock)).commit(),
      );
      // A lock already on our lease with our value is ours: an earlier attempt that committed but
      // whose answer was lost (timeout). Treating it as foreign would block everyone until we exit.
      const current = res.succeeded ? undefined : res.responses[0]?.response_range?.kvs?.[0];
      acquired = res.succeeded || (current !== undefined && current.value.toString() === value && String(current.lease) === leaseId);
    } catch (err) {
      // The transaction may have committed: remove a lock of ours rather than hold it unknowingly.
      void client
        .if(lock, 'Value', '==', value)
        .then(client.delete().key(lock))
        .commit()
        .catch(() => {});
      throw err;
    }
    if (!acquired) return undefined;
    let released = false;
    const written: { last?: Written } = {};
    return {
      writeFirstSeed: (next, expected, options) => this.#fencedWrite(lock, value, leaseId, next, expected, written, options),
      release: async () => {
        if (released) return;
        released = true;
        try {
          await bounded(`etcd: releasing ${lock}`, CALL_TIMEOUT_MS, undefined, () =>
            client.if(lock, 'Value', '==', value).then(client.delete().key(lock)).commit(),
          );
        } catch (err) {
          this.#context.logger.warn({ key: lock, error: (err as Error).message }, 'etcd: releasing the lock failed; it expires with the lease');
        }
      },
    };
  }

  /**
   * One transaction: lock still ours (value and lease) and first-seed unchanged since read, then write.
   * No read first when the transaction itself can compare: expected absent is CreateRevision == 0, and
   * after our own write its revision (a failure there reads and tries once more, so someone rewriting
   * the same value is no false "changed").
   */
  async #fencedWrite(
    lock: string,
    lockValue: string,
    leaseId: string,
    next: FirstSeed | undefined,
    expected: FirstSeed | undefined,
    written: { last?: Written },
    { service, signal }: SeedLockOptions,
  ): Promise<boolean> {
    const { firstSeed } = this.#keys(service);
    const client = this.#provider.client;
    const last = written.last;
    delete written.last;
    /** `at`: first-seed's mod revision, 0 for absent. */
    const commit = async (at: number | string): Promise<boolean> => {
      const data = next && encodeFirstSeed(next);
      const write = data !== undefined ? client.put(firstSeed).value(data) : client.delete().key(firstSeed);
      const res = await client
        .if(lock, 'Value', '==', lockValue)
        .and(lock, 'Lease', '==', leaseId)
        .and(firstSeed, at === 0 ? 'Create' : 'Mod', '==', at)
        .then(write)
        .commit();
      if (res.succeeded && data !== undefined) written.last = { data, revision: res.header.revision };
      return res.succeeded;
    };
    return this.#provider.call(`writing ${firstSeed}`, CALL_TIMEOUT_MS, signal, async () => {
      if (next && expected === undefined) return commit(0);
      if (last && sameStoredFirstSeed(last.data, expected, firstSeed) && (await commit(last.revision))) return true;
      const current = (await client.get(firstSeed).exec()).kvs[0];
      if (!sameStoredFirstSeed(current?.value.toString(), expected, firstSeed)) return false;
      return commit(current ? current.mod_revision : 0);
    });
  }

  async addMember(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<void> {
    await this.#provider.putOwned(`${this.#keys(service).members}${pointKey(self)}`, encodePoint(self), signal, { restore: false });
  }

  async removeMember(self: ContactPoint, { service }: SeedLockOptions): Promise<void> {
    await this.#provider.deleteOwned(`${this.#keys(service).members}${pointKey(self)}`);
  }

  async waitForChange({ service, signal, maxWaitMs }: SeedLockOptions & { maxWaitMs: number }): Promise<void> {
    await this.#watch(service, signal);
    const changes = this.#signal(service);
    await changes.waitSince(this.#readVersion.get(service) ?? changes.version, maxWaitMs, this.#context.clock, signal);
  }

  async close(): Promise<void> {
    const watchers = [...this.#watchers.values()];
    this.#watchers.clear();
    await Promise.all(watchers.map((w) => w.then((x) => x.cancel()).catch(() => {})));
  }
}

/** A first-seed value our fenced write left, and the revision it was written at. */
interface Written {
  data: string;
  revision: string;
}

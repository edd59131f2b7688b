import type { Watcher } from 'node-zookeeper-client';
import { canonicalize } from '../../src/address.js';
import { ChangeSignal } from '../../src/lock/change-signal.js';
import { decodeFirstSeed, encodeFirstSeed, encodePoint, pointKey } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';
import type { ZookeeperProvider } from './index.js';
import { decodeNames } from './names.js';
import { CreateMode, Exception, isZkCode, zkError, type ZkOp } from './session.js';

const LOCK_NODE = /^lock-(\d+)$/;

/*
 * The ZooKeeper lock recipe: an ephemeral sequential `lock/lock-<seq>`; the lowest sequence holds the
 * lock. This SeedLock makes single attempts (tryLock), so a loser removes its node and watches the
 * holder's node — the predecessor of every contender — instead of the whole lock directory, plus
 * `first-seed` (exists watch) and `members/` (child watch). ZooKeeper watches fire once; reading the
 * record sets them again. The watcher functions are stable, so the client never stacks duplicates.
 * `first-seed` is written by a multi-op that also checks the holder's lock node: it is ephemeral, so
 * once the holder's session has expired the check fails and nothing is written.
 */
export class ZookeeperSeedLock implements SeedLock {
  readonly #provider: ZookeeperProvider;
  readonly #context: ProviderContext;
  readonly #changes = new Map<string, { signal: ChangeSignal; watcher: Watcher; readVersion: number }>();

  constructor(provider: ZookeeperProvider, context: ProviderContext) {
    this.#provider = provider;
    this.#context = context;
    // A new session has none of the old watches: wake every waiter so it reads (and watches) again.
    provider.onNewSession(() => {
      for (const c of this.#changes.values()) c.signal.bump();
    });
  }

  #paths(service: string) {
    const base = this.#provider.servicePath(service);
    return { base, lockDir: `${base}/lock`, firstSeed: `${base}/first-seed`, members: `${base}/members` };
  }

  #change(service: string) {
    let c = this.#changes.get(service);
    if (!c) {
      const signal = new ChangeSignal();
      c = { signal, watcher: () => signal.bump(), readVersion: 0 };
      this.#changes.set(service, c);
    }
    return c;
  }

  async readRecord({ service, signal }: SeedLockOptions): Promise<ClusterRecord> {
    const paths = this.#paths(service);
    const change = this.#change(service);
    change.readVersion = change.signal.version;
    const session = this.#provider.session;
    try {
      // Two requests in the usual case, whatever the number of members: first-seed's data (its read sets
      // the watch) and the members listing, whose names are the members' addresses (no read per member).
      const [node, names] = await Promise.all([
        this.#readWatched(paths.firstSeed, change.watcher, signal),
        session.listChildren(paths.members, signal, change.watcher),
      ]);
      // A listing of a missing directory sets no watch: watch for its creation (the first addMember makes it).
      if (names === undefined && (await session.exists(paths.members, signal, change.watcher))) change.signal.bump();
      const record: ClusterRecord = { members: canonicalize(decodeNames(names ?? [], paths.members, this.#context, 'member')) };
      if (node) record.firstSeed = decodeFirstSeed(node.data, paths.firstSeed);
      return record;
    } catch (err) {
      throw zkError(`reading ${paths.base}`, err);
    }
  }

  /**
   * getData with a watch: one request when the node exists. A read of a missing node sets no watch in
   * ZooKeeper, so then an exists watch is set (it fires on the creation); a node created between the two
   * is read again.
   */
  async #readWatched(path: string, watcher: Watcher, signal?: AbortSignal): Promise<{ data: string } | undefined> {
    const session = this.#provider.session;
    for (;;) {
      const node = await session.getData(path, signal, watcher);
      if (node) return node;
      if (!(await session.exists(path, signal, watcher))) return undefined;
    }
  }

  get leaseTtlMs(): number {
    return this.#provider.sessionTimeoutMs;
  }

  /** Any answered request proves the session alive (and renews it on the server). */
  async confirmLease({ service, signal }: SeedLockOptions): Promise<void> {
    const session = this.#provider.session;
    try {
      await session.exists(this.#paths(service).base, signal);
    } catch (err) {
      throw zkError('confirming the session', err);
    }
    if (session !== this.#provider.session) throw zkError('confirming the session', new Error('the session expired and was replaced'));
  }

  async tryLock(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<HeldLock | undefined> {
    const { lockDir } = this.#paths(service);
    const session = this.#provider.session;
    const change = this.#change(service);
    const value = encodePoint(self, false);
    try {
      // Held by someone already: no node of ours to create and remove, only the holder to watch.
      const holder = await this.#holder(lockDir, signal);
      if (holder !== undefined) {
        const outcome = await this.#watchHolder(`${lockDir}/${holder}`, value, change.watcher, signal);
        if (outcome !== 'gone') return outcome === 'ours' ? this.#heldLock(`${lockDir}/${holder}`, service) : undefined;
      }
    } catch (err) {
      throw zkError(`acquiring ${lockDir}`, err);
    }
    let ours: string | undefined;
    let holder: string | undefined;
    try {
      ours = await session.createIn(`${lockDir}/lock-`, value, CreateMode.EPHEMERAL_SEQUENTIAL, signal, this.#provider.layoutOf(`${lockDir}/lock-`));
      holder = await this.#holder(lockDir, signal);
    } catch (err) {
      // A lock node we created but could not evaluate would hold (or queue for) the lock unknowingly
      // until our session ends: remove it. (A create whose answer was lost leaves a node we cannot
      // name; it goes with the session.)
      if (ours !== undefined) void session.remove(ours).catch(() => {});
      throw zkError(`acquiring ${lockDir}`, err);
    }
    const created = ours;
    if (holder !== undefined && `${lockDir}/${holder}` === created) return this.#heldLock(created, service);
    try {
      const outcome = holder === undefined ? 'gone' : await this.#watchHolder(`${lockDir}/${holder}`, value, change.watcher, signal);
      if (outcome === 'ours') {
        void session.remove(created).catch(() => {});
        return this.#heldLock(`${lockDir}/${holder}`, service);
      }
      await session.remove(created, -1, signal).catch((err: unknown) => {
        if (!isZkCode(err, Exception.NO_NODE)) throw err;
      });
      if (outcome === 'gone') change.signal.bump();
    } catch (err) {
      throw zkError(`watching ${lockDir}`, err);
    }
    return undefined;
  }

  /** The lowest lock node's name (the holder), or undefined when nobody holds the lock. */
  async #holder(lockDir: string, signal?: AbortSignal): Promise<string | undefined> {
    return (await this.#provider.session.getChildren(lockDir, signal)).filter((n) => LOCK_NODE.test(n)).sort(bySequence)[0];
  }

  /**
   * Watches the holder's node (it goes when the holder releases or its session ends) — the predecessor
   * of every contender. 'ours' when it is a node this session created with our value: an earlier
   * attempt whose answer was lost (a timeout); without this check it would block everyone until the
   * session ends. 'gone' when it went meanwhile.
   */
  async #watchHolder(path: string, value: string, watcher: Watcher, signal?: AbortSignal): Promise<'ours' | 'other' | 'gone'> {
    const session = this.#provider.session;
    const stat = await session.exists(path, signal, watcher);
    if (!stat) return 'gone';
    if (!stat.ephemeralOwner.equals(session.client.getSessionId())) return 'other';
    const node = await session.getData(path, signal);
    if (!node) return 'gone';
    return node.data === value && node.stat.ephemeralOwner.equals(session.client.getSessionId()) ? 'ours' : 'other';
  }

  #heldLock(path: string, service: string): HeldLock {
    const session = this.#provider.session;
    let released = false;
    return {
      writeFirstSeed: (next, expected, options) => this.#fencedWrite(path, service, next, expected, options.signal),
      release: async () => {
        if (released) return;
        released = true;
        await session.remove(path).catch((err: unknown) => {
          if (!isZkCode(err, Exception.NO_NODE)) {
            this.#context.logger.warn({ znode: path, error: (err as Error).message }, 'zookeeper: releasing the lock failed; it goes with the session');
          }
        });
      },
    };
  }

  /** check(lock node) + create/set/remove of first-seed at the version read: all or nothing. */
  async #fencedWrite(lockNode: string, service: string, next: FirstSeed | undefined, expected: FirstSeed | undefined, signal?: AbortSignal): Promise<boolean> {
    const { firstSeed } = this.#paths(service);
    const session = this.#provider.session;
    try {
      const node = await session.getData(firstSeed, signal);
      if (!sameStoredFirstSeed(node?.data, expected, firstSeed)) return false;
      const ops: ZkOp[] = [{ kind: 'check', path: lockNode }];
      if (next && node) ops.push({ kind: 'set', path: firstSeed, data: encodeFirstSeed(next), version: node.stat.version });
      else if (next) ops.push({ kind: 'create', path: firstSeed, data: encodeFirstSeed(next) });
      else if (node) ops.push({ kind: 'remove', path: firstSeed, version: node.stat.version });
      else return true;
      await session.multi(ops, signal);
      return true;
    } catch (err) {
      // The lock node is gone (session expired), or first-seed changed since the read.
      if ([Exception.NO_NODE, Exception.BAD_VERSION, Exception.NODE_EXISTS, Exception.SESSION_EXPIRED].some((c) => isZkCode(err, c))) return false;
      throw zkError(`writing ${firstSeed}`, err);
    }
  }

  async addMember(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<void> {
    await this.#provider.createOwned(`${this.#paths(service).members}/${pointKey(self)}`, encodePoint(self), signal, { restore: false });
  }

  async removeMember(self: ContactPoint, { service }: SeedLockOptions): Promise<void> {
    await this.#provider.removeOwned(`${this.#paths(service).members}/${pointKey(self)}`);
  }

  async waitForChange({ service, signal, maxWaitMs }: SeedLockOptions & { maxWaitMs: number }): Promise<void> {
    const change = this.#change(service);
    await change.signal.waitSince(change.readVersion, maxWaitMs, this.#context.clock, signal);
  }
}

function bySequence(a: string, b: string): number {
  return Number(LOCK_NODE.exec(a)?.[1]) - Number(LOCK_NODE.exec(b)?.[1]);
}

import type { Stat, Watcher } from 'node-zookeeper-client';
import { canonicalize } from '../../src/address.js';
import { ChangeSignal } from '../../src/lock/change-signal.js';
import { decodeFirstSeed, encodeFirstSeed, encodePoint, pointKey } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';
import type { ZookeeperProvider } from './index.js';
import { decodeNames } from './names.js';
import { CreateMode, Exception, isZkCode, zkError, type ZkOp } from './session.js';
import { WatchedCache } from './watched-cache.js';

const LOCK_NODE = /^lock-(\d+)$/;

/*
 * The ZooKeeper lock recipe: an ephemeral sequential `lock/lock-<seq>`; the lowest sequence holds the
 * lock. This SeedLock makes single attempts (tryLock), so a loser removes its node and watches the
 * holder's node — the predecessor of every contender — instead of the whole lock directory, plus
 * `first-seed` (data or exists watch) and `members/` (child watch). ZooKeeper watches fire once; reading
 * again sets them again. The watcher functions are stable, so the client never stacks duplicates.
 * What a read returned is kept with the watch it set (WatchedCache) and read again only after that
 * watch fired, the connection dropped or the session was replaced: a second readRecord with nothing
 * changed makes no request, and neither does a tryLock while the holder we watch still holds the lock.
 * `first-seed` is written by a multi-op that also checks the holder's lock node: it is ephemeral, so
 * once the holder's session has expired the check fails and nothing is written.
 */
export class ZookeeperSeedLock implements SeedLock {
  readonly #provider: ZookeeperProvider;
  readonly #context: ProviderContext;
  readonly #services = new Map<string, ServiceState>();

  constructor(provider: ZookeeperProvider, context: ProviderContext) {
    this.#provider = provider;
    this.#context = context;
    provider.onConnectionEvent((event) => {
      for (const state of this.#services.values()) {
        for (const cache of [state.firstSeed, state.members, state.holder]) cache.clear();
        // Back (or in a new session, which has none of the old watches): wake every waiter so it reads
        // (and watches) again. A drop alone wakes nobody: a read now would fail.
        if (event !== 'disconnected') state.signal.bump();
      }
    });
  }

  #paths(service: string) {
    const base = this.#provider.servicePath(service);
    return { base, lockDir: `${base}/lock`, firstSeed: `${base}/first-seed`, members: `${base}/members` };
  }

  #state(service: string): ServiceState {
    let state = this.#services.get(service);
    if (!state) {
      const signal = new ChangeSignal();
      const bump = () => signal.bump();
      state = {
        signal,
        readVersion: 0,
        readFirstSeed: false,
        firstSeed: new WatchedCache(bump),
        members: new WatchedCache(bump),
        holder: new WatchedCache(bump),
      };
      this.#services.set(service, state);
    }
    return state;
  }

  async readRecord({ service, signal }: SeedLockOptions): Promise<ClusterRecord> {
    const paths = this.#paths(service);
    const state = this.#state(service);
    state.readVersion = state.signal.version;
    const session = this.#provider.session;
    try {
      // Two requests at most, whatever the number of members: first-seed's data (its read sets the
      // watch) and the members listing, whose names are the members' addresses (no read per member).
      const [node, names] = await Promise.all([
        this.#firstSeedNode(service, signal),
        state.members.read(
          paths.members,
          session,
          (watcher) => session.listChildren(paths.members, signal, watcher),
          (listed) => listed !== undefined,
        ),
      ]);
      // A listing of a missing directory sets no watch: watch for its creation (the first addMember makes it).
      if (names === undefined && (await session.exists(paths.members, signal, state.members.watcher(paths.members)))) state.signal.bump();
      const record: ClusterRecord = { members: canonicalize(decodeNames(names ?? [], paths.members, this.#context, 'member')) };
      if (node) record.firstSeed = decodeFirstSeed(node.data, paths.firstSeed);
      return record;
    } catch (err) {
      throw zkError(`reading ${paths.base}`, err);
    }
  }

  async readFirstSeed({ service, signal }: SeedLockOptions): Promise<FirstSeed | undefined> {
    const paths = this.#paths(service);
    const state = this.#state(service);
    state.readVersion = state.signal.version;
    try {
      const node = await this.#firstSeedNode(service, signal);
      return node && decodeFirstSeed(node.data, paths.firstSeed);
    } catch (err) {
      throw zkError(`reading ${paths.firstSeed}`, err);
    }
  }

  #firstSeedNode(service: string, signal: AbortSignal | undefined): Promise<ZkNode | undefined> {
    const paths = this.#paths(service);
    const state = this.#state(service);
    const session = this.#provider.session;
    return state.firstSeed.read(paths.firstSeed, session, async (watcher) => {
      // A service this session found new has no first-seed yet, most likely: the first read asks
      // exists first (one request when absent). Later ones follow a watch event: getData first.
      const absentLikely = !state.readFirstSeed && session.foundMissing(paths.base);
      state.readFirstSeed = true;
      return this.#readWatched(paths.firstSeed, watcher, signal, absentLikely);
    });
  }

  /**
   * getData with a watch: one request when the node exists. A read of a missing node sets no watch in
   * ZooKeeper, so then an exists watch is set (it fires on the creation); a node created between the two
   * is read again. `absentLikely`: the exists first, one request when the node is missing.
   */
  async #readWatched(path: string, watcher: Watcher, signal: AbortSignal | undefined, absentLikely: boolean): Promise<ZkNode | undefined> {
    const session = this.#provider.session;
    if (absentLikely && !(await session.exists(path, signal, watcher))) return undefined;
    for (;;) {
      const node = await session.getData(path, signal, watcher);
      if (node) return node;
      if (!(await session.exists(path, signal, watcher))) return undefined;
    }
  }

  get leaseTtlMs(): number {
    return this.#provider.sessionTimeoutMs;
  }

  /** When the latest request the server answered was sent: the server renewed the session on receiving it. */
  confirmedAt(): number | undefined {
    return this.#provider.session.answeredAt;
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
    const state = this.#state(service);
    const value = encodePoint(self, false);
    // Another session's node holds the lock and its exists watch has not fired: it still does (a lower
    // sequence cannot appear), so there is nothing to ask.
    if (state.holder.get(lockDir, session)) return undefined;
    try {
      // Held by someone already: no node of ours to create and remove, only the holder to watch.
      const holder = await this.#holder(lockDir, signal);
      if (holder !== undefined) {
        const outcome = await this.#watchHolder(lockDir, holder, value, state.holder, signal);
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
      const outcome = holder === undefined ? 'gone' : await this.#watchHolder(lockDir, holder, value, state.holder, signal);
      if (outcome === 'ours') {
        void session.remove(created).catch(() => {});
        return this.#heldLock(`${lockDir}/${holder}`, service);
      }
      await session.remove(created, -1, signal).catch((err: unknown) => {
        if (!isZkCode(err, Exception.NO_NODE)) throw err;
      });
      if (outcome === 'gone') state.signal.bump();
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
   * session ends. 'gone' when it went meanwhile. Another session's holder is kept in `holders` until
   * its watch fires.
   */
  async #watchHolder(lockDir: string, holder: string, value: string, holders: WatchedCache<string>, signal?: AbortSignal): Promise<'ours' | 'other' | 'gone'> {
    const session = this.#provider.session;
    const path = `${lockDir}/${holder}`;
    const mark = holders.mark(lockDir, session);
    const stat = await session.exists(path, signal, holders.watcher(lockDir));
    if (!stat) return 'gone';
    if (!stat.ephemeralOwner.equals(session.client.getSessionId())) {
      holders.keep(lockDir, mark, path);
      return 'other';
    }
    const node = await session.getData(path, signal);
    if (!node) return 'gone';
    return node.data === value && node.stat.ephemeralOwner.equals(session.client.getSessionId()) ? 'ours' : 'other';
  }

  #heldLock(path: string, service: string): HeldLock {
    const session = this.#provider.session;
    let released = false;
    // What our last fenced write left in first-seed: the next write compares with its version directly.
    const written: { last?: Written } = {};
    return {
      writeFirstSeed: (next, expected, options) => this.#fencedWrite(path, service, next, expected, written, options.signal),
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

  /**
   * check(lock node) + create/set/remove of first-seed at the version read: all or nothing. No read
   * first when the multi itself can compare: a create fails when first-seed exists (expected absent),
   * and a write after our own uses the version that write left (a failure there reads and tries once
   * more, so someone rewriting the same value is no false "changed").
   */
  async #fencedWrite(
    lockNode: string,
    service: string,
    next: FirstSeed | undefined,
    expected: FirstSeed | undefined,
    written: { last?: Written },
    signal?: AbortSignal,
  ): Promise<boolean> {
    const { firstSeed } = this.#paths(service);
    const session = this.#provider.session;
    const last = written.last;
    delete written.last;
    const commit = async (current: Written | undefined): Promise<void> => {
      const ops: ZkOp[] = [{ kind: 'check', path: lockNode }];
      const data = next && encodeFirstSeed(next);
      if (data !== undefined && current) ops.push({ kind: 'set', path: firstSeed, data, version: current.version });
      else if (data !== undefined) ops.push({ kind: 'create', path: firstSeed, data });
      else if (current) ops.push({ kind: 'remove', path: firstSeed, version: current.version });
      await session.multi(ops, signal);
      if (data !== undefined) written.last = { data, version: current ? current.version + 1 : 0 };
    };
    try {
      if (next && expected === undefined) {
        await commit(undefined);
        return true;
      }
      if (last && sameStoredFirstSeed(last.data, expected, firstSeed)) {
        try {
          await commit(last);
          return true;
        } catch (err) {
          if (!isZkCode(err, Exception.BAD_VERSION) && !isZkCode(err, Exception.NO_NODE)) throw err;
        }
      }
      const node = await session.getData(firstSeed, signal);
      if (!sameStoredFirstSeed(node?.data, expected, firstSeed)) return false;
      if (!next && !node) return true;
      await commit(node && { data: node.data, version: node.stat.version });
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
    const state = this.#state(service);
    await state.signal.waitSince(state.readVersion, maxWaitMs, this.#context.clock, signal);
  }
}

interface ZkNode {
  data: string;
  stat: Stat;
}

/** A first-seed value our fenced write left, and the version it has. */
interface Written {
  data: string;
  version: number;
}

/** One service's change signal and what its reads keep, each with the watch it set. */
interface ServiceState {
  signal: ChangeSignal;
  /** The change version when readRecord last read (where waitForChange starts). */
  readVersion: number;
  /** first-seed was read once (later reads start with getData). */
  readFirstSeed: boolean;
  firstSeed: WatchedCache<ZkNode | undefined>;
  /** Member names; a listing of a missing directory is not kept (it set no watch). */
  members: WatchedCache<string[] | undefined>;
  /** The path of the lock node another session holds the lock with (exists watch set), by lock directory. */
  holder: WatchedCache<string>;
}

function bySequence(a: string, b: string): number {
  return Number(LOCK_NODE.exec(a)?.[1]) - Number(LOCK_NODE.exec(b)?.[1]);
}

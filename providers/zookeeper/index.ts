import { canonicalize } from '../../src/address.js';
import { monotonicNow } from '../../src/clock.js';
import { SharedRegistrations } from '../../src/lock/shared-registrations.js';
import { bounded } from '../../src/lock/bounded.js';
import { pointKey } from '../../src/lock/codec.js';
import { OwnedEntries } from '../../src/lock/owned-entries.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type { ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions } from '../../src/types.js';
import { aliases, method, ZookeeperOptions } from './options.js';
import { decodeNames } from './names.js';
import { CALL_TIMEOUT_MS, CreateMode, Exception, isZkCode, type ZkLayout, zkError, ZkSession } from './session.js';
import { ZookeeperSeedLock } from './seed-lock.js';
import { WatchedCache } from './watched-cache.js';

export type ConnectionEvent = 'disconnected' | 'reconnected' | 'new-session';

/*
 * Layout under `<rootPath>/<service>/`: `nodes/<host:port>` (ephemeral registrations), `members/<host:port>`
 * (ephemeral), `lock/lock-<seq>` (ephemeral sequential), `first-seed` (persistent). The three directories
 * are made together, in one multi with the base, by the first create that finds its directory missing. Ephemeral nodes
 * vanish when this process's session ends, so a crashed node releases everything. An expired session
 * (partition longer than sessionTimeoutMs) is replaced by a new one and the ephemerals are created
 * again.
 */
export class ZookeeperProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: ZookeeperOptions;
  readonly #context: ProviderContext;
  /** Ephemeral znodes this node owns (path → data): created again in a new session. */
  readonly #registrations = new SharedRegistrations();
  readonly #owned: OwnedEntries<ZkSession>;
  readonly #sessionListeners = new Set<() => void>();
  readonly #connectionListeners = new Set<(event: ConnectionEvent) => void>();
  /** Registration listings by directory, each with the child watch its read set (see resolve). */
  readonly #listings = new WatchedCache<string[] | undefined>();
  #session: ZkSession;
  #seedLock: ZookeeperSeedLock | undefined;

  constructor(options: ZookeeperOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.#session = this.#newSession();
    this.#owned = new OwnedEntries<ZkSession>(
      {
        name: 'zookeeper',
        keyField: 'znode',
        generation: async () => this.#session,
        write: (session, path, data, signal) => this.#createEphemeral(session, path, data, signal),
        writeError: (path, err) => zkError(`creating ${path}`, err),
        remove: (path) =>
          this.#session.remove(path).catch((err: unknown) => {
            if (!isZkCode(err, Exception.NO_NODE)) {
              this.#context.logger.warn({ znode: path, error: (err as Error).message }, 'zookeeper: removing a znode failed; it goes with the session');
            }
          }),
        logReRegistered: (_session, znodes) => this.#context.logger.info({ znodes }, 'zookeeper: re-registered in a new session'),
      },
      context,
    );
  }

  #newSession(): ZkSession {
    const { connectionString, sessionTimeoutMs, username, password } = this.#options;
    const digest = username !== undefined && password !== undefined ? `${username}:${password}` : undefined;
    const session: ZkSession = new ZkSession(
      connectionString,
      sessionTimeoutMs,
      () => this.#onExpired(session),
      digest,
      () => monotonicNow(this.#context.clock),
    );
    // A watch may be lost (or its event late) while the connection is down: cached reads are dropped,
    // and read again once it is back (the library sets the watches again on reconnect, too).
    let dropped = false;
    session.client.on('disconnected', () => {
      dropped = true;
      if (session === this.#session) this.#connectionEvent('disconnected');
    });
    session.client.on('connected', () => {
      if (!dropped) return;
      dropped = false;
      if (session === this.#session) this.#connectionEvent('reconnected');
    });
    return session;
  }

  get session(): ZkSession {
    return this.#session;
  }

  /** Called when a new session replaced an expired one (its watches are gone). */
  onNewSession(listener: () => void): void {
    this.#sessionListeners.add(listener);
  }

  /**
   * Called when the connection of the current session drops ('disconnected': a watch may be lost or
   * late, so nothing read under a watch can be trusted any more), when it is back ('reconnected'), and
   * when a new session replaced an expired one ('new-session': its watches are gone).
   */
  onConnectionEvent(listener: (event: ConnectionEvent) => void): void {
    this.#connectionListeners.add(listener);
  }

  #connectionEvent(event: ConnectionEvent): void {
    this.#listings.clear();
    for (const l of this.#connectionListeners) l(event);
  }

  servicePath(service: string): string {
    const root = this.#options.rootPath === '/' ? '' : this.#options.rootPath;
    return `${root}/${encodeURIComponent(service)}`;
  }

  /**
   * The service's base and its directories, made in one multi by the first create that finds its
   * directory missing (see ZkSession.createIn); undefined for a path outside the layout.
   */
  layoutOf(path: string): ZkLayout | undefined {
    const base = path.slice(0, path.lastIndexOf('/', path.lastIndexOf('/') - 1));
    if (base === '') return undefined;
    return { base, dirs: [`${base}/nodes`, `${base}/members`, `${base}/lock`] };
  }

  /**
   * One request, whatever the size of the service: a registration's name is its address
   * (`nodes/<host:port>`, see pointKey), so the listing is the answer; the data (with meta) is not read.
   * The listing sets a child watch and is kept until it fires (a registration came or went), the
   * connection drops or the session is replaced: until then a second resolve makes no request.
   * ZooKeeper delivers a watch event before any answer read after the change, so the kept listing is
   * as current as a new read, for every read that follows.
   */
  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const dir = `${this.servicePath(lookup.service)}/nodes`;
    const session = this.#session;
    try {
      const names = await this.#listings.read(
        dir,
        session,
        (watcher) =>
          bounded(`zookeeper: reading ${dir}`, options.timeoutMs ?? CALL_TIMEOUT_MS, options.signal, () => session.listChildren(dir, options.signal, watcher)),
        // A listing of a missing directory set no watch: not kept.
        (listed) => listed !== undefined,
      );
      return canonicalize(decodeNames(names ?? [], dir, this.#context, 'registration'));
    } catch (err) {
      throw zkError(`reading ${dir}`, err);
    }
  }

  /** Creates an ephemeral znode owned by this node (replacing a leftover of an earlier session). */
  createOwned(path: string, data: string, signal?: AbortSignal, options?: { restore?: boolean }): Promise<void> {
    return this.#owned.put(path, data, signal, options);
  }

  get sessionTimeoutMs(): number {
    return this.#options.sessionTimeoutMs;
  }

  async #createEphemeral(session: ZkSession, path: string, data: string, signal?: AbortSignal): Promise<void> {
    try {
      await session.createIn(path, data, CreateMode.EPHEMERAL, signal, this.layoutOf(path));
    } catch (err) {
      if (!isZkCode(err, Exception.NODE_EXISTS)) throw err;
      // Same address, earlier session (a restart faster than the session timeout): take it over.
      await session.remove(path, -1, signal).catch((e: unknown) => {
        if (!isZkCode(e, Exception.NO_NODE)) throw e;
      });
      await session.create(path, data, CreateMode.EPHEMERAL, signal);
    }
  }

  removeOwned(path: string): Promise<void> {
    return this.#owned.delete(path);
  }

  #onExpired(expired: ZkSession): void {
    if (this.#owned.closed || expired !== this.#session) return;
    this.#context.logger.warn({ znodes: this.#owned.size }, 'zookeeper: session expired; registering again in a new session');
    void expired.close();
    this.#session = this.#newSession();
    this.#connectionEvent('new-session');
    for (const l of this.#sessionListeners) l();
    void this.#owned.reRegister();
  }

  register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const base = this.servicePath(options.service);
    const node = `${base}/nodes/${pointKey(self)}`;
    // Shared by reference count: closing the lock strategy's copy must not delete bootstrap()'s znode.
    return this.#registrations.acquire(
      node,
      () => this.#owned.register(self, { node, member: `${base}/members/${pointKey(self)}` }, options.signal),
      options.signal,
    );
  }

  seedLock(): SeedLock {
    this.#seedLock ??= new ZookeeperSeedLock(this, this.#context);
    return this.#seedLock;
  }

  async close(): Promise<void> {
    if (this.#owned.closed) return;
    await this.#registrations.closeAll();
    await this.#owned.close();
    // Closing the session removes whatever ephemerals are left at once (no wait for the timeout).
    await this.#session.close();
  }
}

export const definition: ProviderDefinition<ZookeeperOptions> = {
  method,
  aliases,
  options: ZookeeperOptions,
  create: (options, context) => new ZookeeperProvider(options, context),
};

import { canonicalize, formatHostPort } from '../../src/address.js';
import { backoffDelay, sleep } from '../../src/backoff.js';
import { bounded } from '../../src/lock/bounded.js';
import { decodePoint, encodePoint, pointKey } from '../../src/lock/codec.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type {
  ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions,
} from '../../src/types.js';
import { aliases, method, ZookeeperOptions } from './options.js';
import { CALL_TIMEOUT_MS, CreateMode, Exception, isZkCode, zkError, ZkSession } from './session.js';
import { ZookeeperSeedLock } from './seed-lock.js';

/*
 * Layout under `<rootPath>/<service>/`: `nodes/<host:port>` (ephemeral registrations), `members/<host:port>`
 * (ephemeral), `lock/lock-<seq>` (ephemeral sequential), `first-seed` (persistent). Ephemeral nodes
 * vanish when this process's session ends, so a crashed node releases everything. An expired session
 * (partition longer than sessionTimeoutMs) is replaced by a new one and the ephemerals are created
 * again.
 */
export class ZookeeperProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: ZookeeperOptions;
  readonly #context: ProviderContext;
  /** Ephemeral znodes this node owns (path → data): created again in a new session. */
  readonly #owned = new Map<string, string>();
  /** Which session created each owned znode (a znode of an expired session is gone). */
  readonly #createdIn = new Map<string, ZkSession>();
  readonly #sessionListeners = new Set<() => void>();
  #session: ZkSession;
  #seedLock: ZookeeperSeedLock | undefined;
  #closed = false;
  /** Aborted by close(): stops a re-registration back-off at once. */
  readonly #closing = new AbortController();

  constructor(options: ZookeeperOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.#session = this.#newSession();
  }

  #newSession(): ZkSession {
    const { connectionString, sessionTimeoutMs, username, password } = this.#options;
    const digest = username !== undefined && password !== undefined ? `${username}:${password}` : undefined;
    const session: ZkSession = new ZkSession(connectionString, sessionTimeoutMs, () => this.#onExpired(session), digest);
    return session;
  }

  get session(): ZkSession {
    return this.#session;
  }

  /** Called when a new session replaced an expired one (its watches are gone). */
  onNewSession(listener: () => void): void {
    this.#sessionListeners.add(listener);
  }

  servicePath(service: string): string {
    const root = this.#options.rootPath === '/' ? '' : this.#options.rootPath;
    return `${root}/${encodeURIComponent(service)}`;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const dir = `${this.servicePath(lookup.service)}/nodes`;
    const session = this.#session;
    try {
      const names = await session.getChildren(dir, options.signal);
      // One bound for the whole read (each call still has its own timeout): a signal per read would
      // stack a listener per registration on the caller's signal.
      const entries = await bounded(`zookeeper: reading ${dir}`, options.timeoutMs ?? CALL_TIMEOUT_MS, options.signal, () =>
        Promise.all(names.map(async (name) => ({ name, node: await session.getData(`${dir}/${name}`) }))),
      );
      const points: ContactPoint[] = [];
      for (const { name, node } of entries) {
        if (!node) continue; // deregistered between the listing and the read
        try {
          points.push(decodePoint(node.data, `${dir}/${name}`));
        } catch (err) {
          this.#context.logger.warn({ znode: `${dir}/${name}`, error: (err as Error).message }, 'zookeeper: skipping malformed registration');
        }
      }
      return canonicalize(points);
    } catch (err) {
      throw zkError(`reading ${dir}`, err);
    }
  }

  /** Creates an ephemeral znode owned by this node (replacing a leftover of an earlier session). */
  async createOwned(path: string, data: string, signal?: AbortSignal): Promise<void> {
    const session = this.#session;
    // Registering twice (bootstrap() and the lock strategy both do) must not flap the znode.
    if (this.#owned.get(path) === data && this.#createdIn.get(path) === session) return;
    this.#owned.set(path, data);
    try {
      await this.#createEphemeral(session, path, data, signal);
      this.#createdIn.set(path, session);
    } catch (err) {
      throw zkError(`creating ${path}`, err);
    }
  }

  async #createEphemeral(session: ZkSession, path: string, data: string, signal?: AbortSignal): Promise<void> {
    try {
      await session.createIn(path, data, CreateMode.EPHEMERAL, signal);
    } catch (err) {
      if (!isZkCode(err, Exception.NODE_EXISTS)) throw err;
      // Same address, earlier session (a restart faster than the session timeout): take it over.
      await session.remove(path, -1, signal).catch((e: unknown) => { if (!isZkCode(e, Exception.NO_NODE)) throw e; });
      await session.create(path, data, CreateMode.EPHEMERAL, signal);
    }
  }

  async removeOwned(path: string): Promise<void> {
    this.#createdIn.delete(path);
    if (!this.#owned.delete(path)) return;
    await this.#session.remove(path).catch((err: unknown) => {
      if (!isZkCode(err, Exception.NO_NODE)) {
        this.#context.logger.warn({ znode: path, error: (err as Error).message }, 'zookeeper: removing a znode failed; it goes with the session');
      }
    });
  }

  #onExpired(expired: ZkSession): void {
    if (this.#closed || expired !== this.#session) return;
    this.#context.logger.warn({ znodes: this.#owned.size }, 'zookeeper: session expired; registering again in a new session');
    void expired.close();
    this.#session = this.#newSession();
    for (const l of this.#sessionListeners) l();
    void this.#reRegister(this.#session);
  }

  async #reRegister(session: ZkSession): Promise<void> {
    for (let attempt = 0; !this.#closed && session === this.#session; attempt++) {
      try {
        await Promise.all([...this.#owned].map(async ([path, data]) => {
          await this.#createEphemeral(session, path, data);
          this.#createdIn.set(path, session);
        }));
        this.#context.logger.info({ znodes: this.#owned.size }, 'zookeeper: re-registered in a new session');
        return;
      } catch (err) {
        const delay = backoffDelay(attempt, { maxMs: 5000 });
        this.#context.logger.warn({ error: (err as Error).message, retryInMs: delay }, 'zookeeper: re-registering failed');
        await sleep(delay, this.#closing.signal, this.#context.clock).catch(() => {});
      }
    }
  }

  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const path = `${this.servicePath(options.service)}/nodes/${pointKey(self)}`;
    const memberPath = `${this.servicePath(options.service)}/members/${pointKey(self)}`;
    await this.createOwned(path, encodePoint(self), options.signal);
    this.#context.logger.debug({ znode: path }, 'zookeeper: registered');
    let closed = false;
    return {
      self,
      close: async () => {
        if (closed) return;
        closed = true;
        // Graceful close: the member entry goes with the registration (a crash lets the session do it).
        await Promise.all([this.removeOwned(path), this.removeOwned(memberPath)]);
        this.#context.logger.debug({ self: formatHostPort(self) }, 'zookeeper: deregistered');
      },
    };
  }

  seedLock(): SeedLock {
    this.#seedLock ??= new ZookeeperSeedLock(this, this.#context);
    return this.#seedLock;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#owned.keys()].map((p) => this.removeOwned(p)));
    this.#closed = true;
    this.#closing.abort();
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

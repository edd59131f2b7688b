import './harden-client.js';
import zookeeper, { type Acl, type Client, type Stat, type Watcher, type ZkException } from 'node-zookeeper-client';
import { AuthError, ClusterseedError, DiscoveryError } from '../../src/errors.js';
import { bounded } from '../../src/lock/bounded.js';

export const { CreateMode, Exception } = zookeeper;

/** Bound of one ZooKeeper request; the library itself has none. */
export const CALL_TIMEOUT_MS = 5000;

/** Errors that are answers of the server to the request (not a lost connection or session). */
const SERVER_ANSWERS = [Exception.NO_NODE, Exception.NODE_EXISTS, Exception.BAD_VERSION, Exception.NOT_EMPTY];

export function isZkCode(err: unknown, code: number): boolean {
  return typeof (err as ZkException | undefined)?.getCode === 'function' && (err as ZkException).getCode() === code;
}

export function zkError(what: string, err: unknown): ClusterseedError {
  if (err instanceof ClusterseedError) return err;
  if (isZkCode(err, Exception.NO_AUTH) || isZkCode(err, Exception.AUTH_FAILED)) {
    return new AuthError(`zookeeper: ${what}: not authorised`, { cause: err, hint: 'check the ACLs on rootPath' });
  }
  return new DiscoveryError(`zookeeper: ${what}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
    hint: 'check that ZooKeeper is reachable at connectionString',
  });
}

/** An operation of ZkSession.multi: check (exists), create (persistent), set or remove at a version. */
export type ZkOp =
  | { kind: 'check'; path: string }
  | { kind: 'create'; path: string; data: string | null }
  | { kind: 'set'; path: string; data: string; version: number }
  | { kind: 'remove'; path: string; version: number };

/** A service's base znode and the directories under it, made together (see ZkSession.createIn). */
export interface ZkLayout {
  base: string;
  dirs: string[];
}

/**
 * One ZooKeeper session, with promise-returning calls bounded by a timeout and an AbortSignal.
 * node-zookeeper-client does not reconnect an expired session: the provider replaces the session.
 */
export class ZkSession {
  readonly client: Client;
  readonly connected: Promise<void>;
  /** ACL of the znodes we create: only the same digest identity, or open when no credentials are set. */
  readonly #acls: Acl[];
  readonly #dirs = new Set<string>();
  /** Service bases whose directories a create of this session found missing (a service new to the registry). */
  readonly #foundMissing = new Set<string>();
  #closed = false;

  /** Monotonic clock of the provider (see answeredAt). */
  readonly #now: () => number;
  #answeredAt: number | undefined;

  constructor(connectionString: string, sessionTimeoutMs: number, onExpired: () => void, digest?: string, now: () => number = () => performance.now()) {
    this.#now = now;
    this.client = zookeeper.createClient(connectionString, { sessionTimeout: sessionTimeoutMs, spinDelay: 200, retries: 0 });
    this.#acls = digest ? zookeeper.ACL.CREATOR_ALL_ACL : zookeeper.ACL.OPEN_ACL_UNSAFE;
    if (digest) this.client.addAuthInfo('digest', Buffer.from(digest));
    this.connected = new Promise<void>((resolve) => this.client.once('connected', () => resolve()));
    this.connected.catch(() => {});
    this.client.on('expired', () => {
      if (!this.#closed) onExpired();
    });
    this.client.connect();
  }

  #call<T>(what: string, signal: AbortSignal | undefined, run: (done: (err: ZkException | null, value: T) => void) => void): Promise<T> {
    // Requests wait for the first connection: the library sends the digest credentials on connect,
    // after anything queued earlier, so an early create would carry no identity (INVALID_ACL).
    return bounded(`zookeeper: ${what}`, CALL_TIMEOUT_MS, signal, async () => {
      await this.connected;
      const sentAt = this.#now();
      return new Promise<T>((resolve, reject) =>
        run((err, value) => {
          if (!err || SERVER_ANSWERS.some((code) => isZkCode(err, code))) this.#answeredAt = Math.max(this.#answeredAt ?? sentAt, sentAt);
          return err ? reject(err) : resolve(value);
        }),
      );
    });
  }

  /**
   * When (monotonic) the latest request that the server answered was sent: the server renews a session
   * on every request it receives, so the session was confirmed at least then (SeedLock.confirmedAt).
   */
  get answeredAt(): number | undefined {
    return this.#answeredAt;
  }

  create(path: string, data: string | null, mode: number, signal?: AbortSignal): Promise<string> {
    return this.#call(`creating ${path}`, signal, (done) => this.client.create(path, data === null ? null : Buffer.from(data), this.#acls, mode, done));
  }

  remove(path: string, version = -1, signal?: AbortSignal): Promise<void> {
    return this.#call(`removing ${path}`, signal, (done) => this.client.remove(path, version, (err) => done(err, undefined)));
  }

  setData(path: string, data: string, version = -1, signal?: AbortSignal): Promise<Stat> {
    return this.#call(`writing ${path}`, signal, (done) => this.client.setData(path, Buffer.from(data), version, done));
  }

  /** undefined when the node does not exist. */
  async getData(path: string, signal?: AbortSignal, watcher?: Watcher): Promise<{ data: string; stat: Stat } | undefined> {
    try {
      return await this.#call(`reading ${path}`, signal, (done) =>
        this.client.getData(path, watcher, (err, data, stat) => done(err, { data: data?.toString('utf8') ?? '', stat })),
      );
    } catch (err) {
      if (isZkCode(err, Exception.NO_NODE)) return undefined;
      throw err;
    }
  }

  exists(path: string, signal?: AbortSignal, watcher?: Watcher): Promise<Stat | null> {
    return this.#call(`checking ${path}`, signal, (done) => this.client.exists(path, watcher, done));
  }

  /** [] when the parent does not exist. */
  async getChildren(path: string, signal?: AbortSignal, watcher?: Watcher): Promise<string[]> {
    return (await this.listChildren(path, signal, watcher)) ?? [];
  }

  /** undefined when the parent does not exist (then no watch was set: ZooKeeper sets none on a missing node). */
  async listChildren(path: string, signal?: AbortSignal, watcher?: Watcher): Promise<string[] | undefined> {
    try {
      return await this.#call(`listing ${path}`, signal, (done) => this.client.getChildren(path, watcher, done));
    } catch (err) {
      if (isZkCode(err, Exception.NO_NODE)) return undefined;
      throw err;
    }
  }

  /**
   * Creates the persistent parents once per session. Optimistic, from the leaf up: one request when the
   * directory exists already (the usual case) instead of one per path segment (mkdirp from the root).
   */
  async ensureDir(path: string, signal?: AbortSignal): Promise<void> {
    if (path === '' || path === '/' || this.#dirs.has(path)) return;
    try {
      await this.create(path, null, CreateMode.PERSISTENT, signal);
    } catch (err) {
      if (isZkCode(err, Exception.NO_NODE)) {
        await this.ensureDir(path.slice(0, path.lastIndexOf('/')), signal);
        await this.create(path, null, CreateMode.PERSISTENT, signal).catch((e: unknown) => {
          if (!isZkCode(e, Exception.NODE_EXISTS)) throw e;
        });
      } else if (!isZkCode(err, Exception.NODE_EXISTS)) throw err;
    }
    this.#dirs.add(path);
  }

  /**
   * create() of a node whose parent is made when missing. The parent is not checked first: the create
   * itself tells (NO_NODE), so a node whose directory exists costs one request.
   */
  async createIn(path: string, data: string | null, mode: number, signal?: AbortSignal, layout?: ZkLayout): Promise<string> {
    const parent = path.slice(0, path.lastIndexOf('/'));
    try {
      const created = await this.create(path, data, mode, signal);
      this.#dirs.add(parent);
      return created;
    } catch (err) {
      if (!isZkCode(err, Exception.NO_NODE)) throw err;
      this.#dirs.delete(parent);
      if (layout) this.#foundMissing.add(layout.base);
      if (layout?.dirs.includes(parent) && (await this.#createLayout(layout, signal))) {
        try {
          return await this.create(path, data, mode, signal);
        } catch (e) {
          // The base existed without this directory (made by hand, or by an older layout): made below.
          if (!isZkCode(e, Exception.NO_NODE)) throw e;
        }
      }
      await this.ensureDir(parent, signal);
      return this.create(path, data, mode, signal);
    }
  }

  /** Whether a create of this session found the directories of the service at `base` missing: it is new, so it most likely has no record yet. */
  foundMissing(base: string): boolean {
    return this.#foundMissing.has(base);
  }

  /**
   * The base and all its directories in one multi (one request instead of one per directory, for each
   * of the nodes that start together). true when it was made here or by someone else (NODE_EXISTS: the
   * base exists — made by a concurrent multi, so with every directory, or earlier by hand); false when
   * it failed otherwise (then the caller makes the directory path by path, and reports what fails).
   * When the base's parent (rootPath) is missing too, the same multi makes it first, then its parent…
   * (one more request per missing level, and none per directory).
   */
  async #createLayout(layout: ZkLayout, signal?: AbortSignal, parents = 0): Promise<boolean> {
    const ancestors: string[] = [];
    for (let p = layout.base, i = 0; i < parents; i++) {
      p = p.slice(0, p.lastIndexOf('/'));
      if (p === '') return false;
      ancestors.unshift(p);
    }
    const paths = [...ancestors, layout.base, ...layout.dirs];
    try {
      await this.multi(
        paths.map((path) => ({ kind: 'create', path, data: null })),
        signal,
      );
      for (const dir of paths) this.#dirs.add(dir);
      return true;
    } catch (err) {
      if (isZkCode(err, Exception.NODE_EXISTS)) return true;
      if (!isZkCode(err, Exception.NO_NODE)) return false;
      return this.#createLayout(layout, signal, parents + 1);
    }
  }

  /**
   * One atomic multi-op. Versions are set on the queued ops directly: the library turns version 0 into
   * -1 ("any version"), which would make a compare on a never-modified znode unconditional.
   */
  multi(ops: ZkOp[], signal?: AbortSignal): Promise<void> {
    const tx = this.client.transaction();
    for (const op of ops) {
      if (op.kind === 'check') tx.check(op.path);
      else if (op.kind === 'create') tx.create(op.path, op.data === null ? null : Buffer.from(op.data), this.#acls, CreateMode.PERSISTENT);
      else if (op.kind === 'set') tx.setData(op.path, Buffer.from(op.data));
      else tx.remove(op.path);
      if (op.kind !== 'create') tx.ops[tx.ops.length - 1]!.version = op.kind === 'check' ? -1 : op.version;
    }
    return this.#call(`multi on ${ops.map((o) => o.path).join(', ')}`, signal, (done) => tx.commit((err) => done(err, undefined)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    // The library opens its socket on the tick after connect(); closing before that crashes it
    // (it writes the close request to a socket that does not exist yet).
    await new Promise((resolve) => setImmediate(resolve));
    this.client.close();
  }
}

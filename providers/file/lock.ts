import { randomBytes } from 'node:crypto';
import type { FSWatcher } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { canonicalize } from '../../src/address.js';
import type { TimerHandle } from '../../src/clock.js';
import { ChangeSignal } from '../../src/lock/change-signal.js';
import { decodeFirstSeed, decodePoint, encodeFirstSeed, encodePoint, pointKey } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import { ClusterseedError, DiscoveryError } from '../../src/errors.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';
import { watchDirectory } from './dir-watch.js';
import { serviceDir, writeAtomic } from './entries.js';
import type { FileOptions } from './options.js';

/*
 * The file SeedLock, under `<directory>/<service>/`:
 *   lock            the lock: created exclusively (link(2) of a complete temp file — the O_EXCL
 *                   guarantee, and readers never see a half-written lock), holding {token, expiresAt,
 *                   pid, hostname}; the holder refreshes expiresAt every ttl/3. An expired lock, or one
 *                   whose holder process is gone (same host), is broken by renaming it away.
 *   first-seed      {"host","port","cluster"}, written only by the lock holder after it re-read the
 *                   lock (its token, not expired) and first-seed (unchanged): created with link(2),
 *                   so an entry someone else created is never overwritten; replaced by rename.
 *                   (One machine, no conditional write spanning two files: a holder frozen between
 *                   its check and a replacing rename is the one window left; see docs/faults.md.)
 *   members/*.json  one file per member; liveness comes from the registrations under nodes/.
 * Waiters use fs.watch on the directory, with a poll of the same files as the fallback (network
 * filesystems and containers often deliver no inotify events).
 */

const LockFile = z.object({
  token: z.string(),
  expiresAt: z.number(),
  pid: z.number().int().optional(),
  hostname: z.string().optional(),
  holder: z.string().optional(),
});
type LockFile = z.infer<typeof LockFile>;

export class FileSeedLock implements SeedLock {
  readonly #options: FileOptions;
  readonly #context: ProviderContext;
  readonly #services = new Map<string, { changes: ChangeSignal; watchers: FSWatcher[]; readVersion: number; readSignature: string }>();
  readonly #members = new Set<string>();

  constructor(options: FileOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
  }

  #paths(service: string) {
    const dir = serviceDir(this.#options.directory, service);
    return { dir, lock: path.join(dir, 'lock'), firstSeed: path.join(dir, 'first-seed'), members: path.join(dir, 'members') };
  }

  /** Poll interval of the fallback: changes show up within this even without fs events. */
  get #pollMs(): number {
    return Math.min(500, Math.floor(this.#options.ttlMs / 3));
  }

  async #state(service: string) {
    let s = this.#services.get(service);
    if (!s) {
      const paths = this.#paths(service);
      await mkdir(paths.members, { recursive: true });
      const changes = new ChangeSignal();
      const watchers: FSWatcher[] = [];
      for (const dir of [paths.dir, paths.members]) {
        const w = watchDirectory(dir, () => changes.bump(), this.#context.logger);
        if (w) watchers.push(w);
      }
      s = { changes, watchers, readVersion: 0, readSignature: '' };
      this.#services.set(service, s);
    }
    return s;
  }

  /** What the poll compares: first-seed, lock and the member list. */
  async #signature(service: string): Promise<string> {
    const paths = this.#paths(service);
    const describe = async (file: string) => {
      try {
        const st = await stat(file);
        return `${st.ino}:${st.mtimeMs}:${st.size}`;
      } catch {
        return '-';
      }
    };
    const members = await readdir(paths.members).catch(() => [] as string[]);
    return `${await describe(paths.firstSeed)}|${await describe(paths.lock)}|${members.sort().join(',')}`;
  }

  async readRecord({ service, signal }: SeedLockOptions): Promise<ClusterRecord> {
    signal?.throwIfAborted();
    const state = await this.#state(service);
    state.readVersion = state.changes.version;
    state.readSignature = await this.#signature(service);
    const paths = this.#paths(service);
    try {
      const record: ClusterRecord = { members: [] };
      const firstSeed = await readFile(paths.firstSeed, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (firstSeed !== undefined) record.firstSeed = decodeFirstSeed(firstSeed, paths.firstSeed);
      const names = (await readdir(paths.members)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
      const members: ContactPoint[] = [];
      for (const name of names) {
        const text = await readFile(path.join(paths.members, name), 'utf8').catch(() => undefined);
        if (text === undefined) continue; // removed meanwhile
        try {
          members.push(decodePoint(text, path.join(paths.members, name)));
        } catch {
          this.#context.logger.warn({ file: path.join(paths.members, name) }, 'file: skipping malformed member entry');
        }
      }
      record.members = canonicalize(members);
      return record;
    } catch (err) {
      if (err instanceof ClusterseedError) throw err;
      throw new DiscoveryError(`file: cannot read ${paths.dir}: ${(err as Error).message}`, { cause: err, hint: 'check the directory permissions' });
    }
  }

  async #readLock(file: string): Promise<LockFile | 'malformed' | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return LockFile.parse(JSON.parse(text));
    } catch {
      return 'malformed';
    }
  }

  #breakable(lock: LockFile): boolean {
    if (this.#context.clock.now() > lock.expiresAt) return true;
    if (lock.pid === undefined || lock.hostname !== os.hostname()) return false;
    try {
      process.kill(lock.pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  get leaseTtlMs(): number {
    return this.#options.ttlMs;
  }

  /** Nothing remote to renew: the caller's monotonic check alone tells whether this node was frozen. */
  async confirmLease({ signal }: SeedLockOptions): Promise<void> {
    signal?.throwIfAborted();
  }

  /** Creates `file` with `text` unless it exists (link(2) of a complete temp file: readers never see half of it). */
  async #create(file: string, text: string): Promise<boolean> {
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeAtomic(tmp, text);
    try {
      await link(tmp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  /** Moves an expired lock out of the way; true when the one moved was the one judged expired. */
  async #break(file: string, seen: LockFile | 'malformed'): Promise<boolean> {
    const aside = `${file}.broken.${randomBytes(6).toString('hex')}`;
    try {
      await rename(file, aside);
    } catch {
      return false; // someone else broke or released it first
    }
    const moved = await this.#readLock(aside).catch(() => undefined);
    const same = seen === 'malformed' ? moved === 'malformed' : typeof moved === 'object' && moved.token === seen.token;
    // Not the one we judged: a fresh lock taken meanwhile. Put it back (unless yet another exists).
    if (!same) await link(aside, file).catch(() => {});
    await unlink(aside).catch(() => {});
    return same;
  }

  async tryLock(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<HeldLock | undefined> {
    signal?.throwIfAborted();
    const { lock } = this.#paths(service);
    await mkdir(path.dirname(lock), { recursive: true });
    const ttl = this.#options.ttlMs;
    const { clock, logger } = this.#context;
    const mine = (): LockFile => ({
      token: randomBytes(12).toString('hex'),
      expiresAt: clock.now() + ttl,
      pid: process.pid,
      hostname: os.hostname(),
      holder: pointKey(self),
    });
    let content = mine();
    let acquired = await this.#create(lock, JSON.stringify(content));
    if (!acquired) {
      const existing = await this.#readLock(lock);
      const malformedAndOld =
        existing === 'malformed' &&
        clock.now() -
          (await stat(lock).then(
            (s) => s.mtimeMs,
            () => 0,
          )) >
          ttl;
      if (existing && (malformedAndOld || (existing !== 'malformed' && this.#breakable(existing)))) {
        if (await this.#break(lock, existing)) {
          logger.warn({ file: lock }, 'file: broke an expired lock (its holder stopped refreshing it)');
          content = mine();
          acquired = await this.#create(lock, JSON.stringify(content));
        }
      }
    }
    if (!acquired) return undefined;
    const token = content.token;
    // Refresh while held: the application's join may take longer than the ttl.
    let released = false;
    let timer: TimerHandle | undefined;
    const schedule = () => {
      timer = clock.setTimeout(
        () => {
          void (async () => {
            const now = await this.#readLock(lock).catch(() => undefined);
            if (released || typeof now !== 'object' || now.token !== token) return;
            await writeAtomic(lock, JSON.stringify({ ...now, expiresAt: clock.now() + ttl })).catch(() => {});
            if (!released) schedule();
          })();
        },
        Math.max(100, Math.floor(ttl / 3)),
      );
      timer.unref();
    };
    schedule();
    return {
      writeFirstSeed: async (next, expected, options) => {
        const now = await this.#readLock(lock).catch(() => undefined);
        if (released || typeof now !== 'object' || now.token !== token || clock.now() > now.expiresAt) return false;
        return this.#writeFirstSeed(options.service, next, expected);
      },
      release: async () => {
        if (released) return;
        released = true;
        timer?.cancel();
        const now = await this.#readLock(lock).catch(() => undefined);
        if (typeof now === 'object' && now.token === token) await unlink(lock).catch(() => {});
      },
    };
  }

  /** Under a lock checked by the caller: first-seed must still be `expected`. */
  async #writeFirstSeed(service: string, next: FirstSeed | undefined, expected: FirstSeed | undefined): Promise<boolean> {
    const { firstSeed } = this.#paths(service);
    const text = await readFile(firstSeed, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!sameStoredFirstSeed(text, expected, firstSeed)) return false;
    if (!next) {
      await unlink(firstSeed).catch(() => {});
      return true;
    }
    if (text === undefined) return this.#create(firstSeed, encodeFirstSeed(next));
    await writeAtomic(firstSeed, encodeFirstSeed(next));
    return true;
  }

  async addMember(self: ContactPoint, { service }: SeedLockOptions): Promise<void> {
    const file = path.join(this.#paths(service).members, `${pointKey(self)}.json`);
    await writeAtomic(file, encodePoint(self));
    this.#members.add(file);
  }

  async removeMember(self: ContactPoint, { service }: SeedLockOptions): Promise<void> {
    const file = path.join(this.#paths(service).members, `${pointKey(self)}.json`);
    this.#members.delete(file);
    await unlink(file).catch(() => {});
  }

  async waitForChange({ service, signal, maxWaitMs }: SeedLockOptions & { maxWaitMs: number }): Promise<void> {
    const state = await this.#state(service);
    const { clock } = this.#context;
    const until = clock.now() + maxWaitMs;
    const { lock } = this.#paths(service);
    for (;;) {
      const left = until - clock.now();
      if (left <= 0) return;
      await state.changes.waitSince(state.readVersion, Math.min(left, this.#pollMs), clock, signal);
      if (state.changes.version !== state.readVersion) return;
      if ((await this.#signature(service)) !== state.readSignature) return;
      // A holder that crashed changes no file: wake when its lock can be broken.
      const held = await this.#readLock(lock).catch(() => undefined);
      if (typeof held === 'object' && this.#breakable(held)) return;
    }
  }

  /** Graceful close: this process's member entries go (a crash leaves them to the liveness check). */
  async close(): Promise<void> {
    for (const s of this.#services.values()) for (const w of s.watchers) w.close();
    this.#services.clear();
    await Promise.all([...this.#members].map((f) => unlink(f).catch(() => {})));
    this.#members.clear();
  }
}

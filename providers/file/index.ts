import os from 'node:os';
import path from 'node:path';
import type { FSWatcher } from 'node:fs';
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { canonicalize, formatHostPort } from '../../src/address.js';
import { DiscoveryError } from '../../src/errors.js';
import type {
  ContactPoint,
  Lookup,
  ProviderContext,
  ProviderDefinition,
  RegisterOptions,
  Registration,
  RegistryProvider,
  ResolveOptions,
} from '../../src/types.js';
import { EntryCache, entryFileName, isEntryName, readEntries, serviceDir, writeAtomic, type Entry } from './entries.js';
import { FileOptions, aliases, method } from './options.js';
import { FileSeedLock } from './lock.js';
import { watchDirectory } from './dir-watch.js';
import type { TimerHandle } from '../../src/clock.js';
import type { SeedLock } from '../../src/lock/seed-lock.js';
import { SharedRegistrations } from '../../src/lock/shared-registrations.js';

/**
 * The embedded default: a shared directory on one machine (or a shared volume). Each node owns one
 * file that it rewrites every ttl/3; readers ignore entries older than ttlMs, malformed ones, and
 * ones whose owning process is gone.
 */
export class FileProvider implements RegistryProvider {
  readonly method = method;
  readonly #options: FileOptions;
  readonly #context: ProviderContext;
  /** bootstrap() and the lock strategy both register the node: one entry file, one refresh timer. */
  readonly #registrations = new SharedRegistrations();
  #seedLock: FileSeedLock | undefined;
  /** Per nodes directory: what the last lookups read (only changed entry files are read again). */
  readonly #caches = new Map<string, EntryCache>();

  constructor(options: FileOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
  }

  nodesDir(service: string): string {
    return path.join(serviceDir(this.#options.directory, service), 'nodes');
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    options.signal?.throwIfAborted();
    let results: Awaited<ReturnType<typeof readEntries>>;
    const dir = this.nodesDir(lookup.service);
    let cache = this.#caches.get(dir);
    if (!cache) this.#caches.set(dir, (cache = new EntryCache()));
    try {
      results = await readEntries(dir, this.#context.clock.now(), this.#options.ttlMs, cache);
    } catch (err) {
      throw new DiscoveryError(`file: cannot read ${this.nodesDir(lookup.service)}: ${(err as Error).message}`, {
        cause: err,
        hint: 'check that the directory exists and is readable by this user',
      });
    }
    const points: ContactPoint[] = [];
    for (const r of results) {
      if (r.kind === 'ok') points.push(toContactPoint(r.entry));
      else if (r.reason === 'malformed entry') this.#context.logger.warn({ file: r.file }, 'file: skipping malformed entry');
      else this.#context.logger.debug({ file: r.file, reason: r.reason }, 'file: skipping entry');
    }
    return canonicalize(points);
  }

  /**
   * fs.watch on the service's nodes directory (created when missing): a registration or a
   * deregistration by any process calls `onChange` once per burst (COALESCE_MS). A refresh of a
   * known entry does not (every node rewrites its entry every ttl/3: at N nodes, N lookups per
   * refresh period on every node would be the whole cost of a large cluster), unless it comes late
   * (the owner was paused or cut off and is back). Where fs.watch is unavailable this says so at
   * debug and does nothing: the interval lookups go on, and they also see what the watch leaves out
   * (a changed meta, an entry that went stale). A directory that cannot be created, or a watcher
   * that breaks, is tried again every few hundred ms. One `onChange` follows every arming, the first
   * included (events may have been missed before it).
   */
  watch(lookup: Lookup, onChange: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    const dir = this.nodesDir(lookup.service);
    const { clock, logger } = this.#context;
    const retryMs = Math.min(500, Math.floor(this.#options.ttlMs / 3));
    let watcher: FSWatcher | undefined;
    let burst: TimerHandle | undefined;
    let retry: TimerHandle | undefined;
    const fire = () => {
      burst = undefined;
      if (signal.aborted) return;
      try {
        onChange();
      } catch (err) {
        logger.debug({ error: (err as Error).message }, 'file: a watch listener threw');
      }
    };
    const changed = () => {
      if (signal.aborted || burst) return;
      burst = clock.setTimeout(fire, COALESCE_MS);
      burst.unref();
    };
    // Entry name → when its last write was seen: a write to a known name is a refresh.
    let known: Map<string, number> | undefined;
    const lateAfterMs = Math.floor(1.5 * refreshPeriodMs(this.#options.ttlMs));
    const event = (filename: string | null) => {
      if (signal.aborted) return;
      if (filename === null || known === undefined) return changed();
      // Temp files of writeAtomic and the lock's files are not entries; their rename onto `<name>.json` is.
      if (!isEntryName(filename)) return;
      const names = known;
      stat(path.join(dir, filename)).then(
        () => {
          const last = names.get(filename);
          names.set(filename, clock.now());
          if (last === undefined || clock.now() - last > lateAfterMs) changed();
        },
        () => {
          if (names.delete(filename)) changed();
        },
      );
    };
    const again = () => {
      if (signal.aborted) return;
      retry = clock.setTimeout(() => void arm(), retryMs);
      retry.unref();
    };
    const arm = async () => {
      retry = undefined;
      try {
        await mkdir(dir, { recursive: true });
      } catch (err) {
        logger.debug({ dir, error: (err as Error).message }, 'file: cannot create the nodes directory to watch it; trying again');
        return again();
      }
      if (signal.aborted) return;
      known = undefined;
      watcher = watchDirectory(dir, event, logger, () => {
        watcher = undefined;
        again();
      });
      if (!watcher) return;
      // Arming is asynchronous: entries written between the caller's first lookup and now raised no
      // event, so one look follows every arming (a re-arming may have missed events too).
      changed();
      const listed = await readdir(dir).catch(() => [] as string[]);
      if (signal.aborted) return;
      const at = clock.now();
      known = new Map(listed.filter(isEntryName).map((n) => [n, at]));
    };
    signal.addEventListener(
      'abort',
      () => {
        watcher?.close();
        watcher = undefined;
        burst?.cancel();
        retry?.cancel();
      },
      { once: true },
    );
    void arm().catch((err: unknown) => logger.debug({ dir, error: (err as Error).message }, 'file: the watch could not start'));
  }

  /**
   * Writes the entry file and rewrites it every ttl/3 until closed. A second registration of the same
   * point (the lock strategy after bootstrap()) shares the first: no write, no second timer; the file
   * is removed when the last holder closes.
   */
  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const file = path.join(this.nodesDir(options.service), entryFileName(self));
    options.signal?.throwIfAborted();
    return this.#registrations.acquire(file, () => this.#register(file, self), options.signal);
  }

  async #register(file: string, self: ContactPoint): Promise<Registration> {
    const { clock, logger } = this.#context;
    const write = () => {
      const entry: Entry = { host: self.host, updatedAt: clock.now(), pid: process.pid, hostname: os.hostname() };
      if (self.port !== undefined) entry.port = self.port;
      if (self.meta) entry.meta = { ...self.meta };
      return writeAtomic(file, JSON.stringify(entry));
    };
    const ttlMs = this.#options.ttlMs;
    await write();
    let closed = false;
    let inflight: Promise<void> = Promise.resolve();
    const schedule = () => {
      const t = clock.setTimeout(() => {
        inflight = write()
          .catch((err: Error) => logger.warn({ file, error: err.message }, 'file: refreshing the registration failed'))
          .finally(() => {
            if (!closed) timer = schedule();
          });
      }, refreshPeriodMs(ttlMs));
      t.unref();
      return t;
    };
    let timer = schedule();
    const registration: Registration = {
      self,
      close: async () => {
        if (closed) return;
        closed = true;
        timer.cancel();
        await inflight; // a refresh finishing after the unlink would resurrect the entry
        await unlink(file).catch(() => {});
        logger.debug({ self: formatHostPort(self) }, 'file: deregistered');
      },
    };
    return registration;
  }

  /** The `lock` strategy's SeedLock (providers/file/lock.ts). */
  seedLock(): SeedLock {
    this.#seedLock ??= new FileSeedLock(this.#options, this.#context);
    return this.#seedLock;
  }

  async close(): Promise<void> {
    await this.#registrations.closeAll();
    await this.#seedLock?.close();
  }
}

/** How often an owner rewrites its entry. */
const refreshPeriodMs = (ttlMs: number) => Math.max(100, Math.floor(ttlMs / 3));

/** One onChange per burst of fs events: a registration is a temp write plus a rename, N nodes start together. */
const COALESCE_MS = 15;

function toContactPoint(entry: Entry): ContactPoint {
  const cp: ContactPoint = { host: entry.host };
  if (entry.port !== undefined) cp.port = entry.port;
  if (entry.meta && Object.keys(entry.meta).length > 0) cp.meta = entry.meta;
  return cp;
}

export const definition: ProviderDefinition<FileOptions> = {
  method,
  aliases,
  options: FileOptions,
  create: (options, context) => new FileProvider(options, context),
};

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { formatHostPort, parseHostPort } from '../../src/address.js';
import type { ContactPoint } from '../../src/types.js';

/** One registered node, as stored in `<directory>/<service>/nodes/<host_port>.json`. */
export const Entry = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).optional(),
  meta: z.record(z.string(), z.string()).optional(),
  pid: z.number().int().optional(),
  hostname: z.string().optional(),
  updatedAt: z.number(),
});
export type Entry = z.infer<typeof Entry>;

export function serviceDir(directory: string, service: string): string {
  // The service name becomes a path segment: keep it to one safe segment.
  return path.join(directory, encodeURIComponent(service));
}

export function entryFileName(cp: ContactPoint): string {
  return `${encodeURIComponent(formatHostPort(cp))}.json`;
}

/** Atomic write: readers see the old content or the new, never a torn file. */
export async function writeAtomic(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export type ReadResult = { kind: 'ok'; entry: Entry; file: string } | { kind: 'skipped'; file: string; reason: string };

/** This host's name, read once: a lookup checks it for every entry, and each read is a system call. */
let hostname: string | undefined;

/** True when `pid` is a process that no longer exists on this host. */
function deadLocalProcess(entry: Entry): boolean {
  hostname ??= os.hostname();
  if (entry.pid === undefined || entry.hostname !== hostname) return false;
  try {
    process.kill(entry.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** What a lookup remembers of one entry file: its stat signature and what reading it gave. */
interface CachedRead {
  signature: string;
  read: { kind: 'ok'; entry: Entry } | { kind: 'malformed' };
}

/**
 * A lookup's memory of the entry files it read, keyed by name. `writeAtomic` renames a new inode
 * in on every write, so an unchanged (inode, size, mtime, ctime) means unchanged content: a lookup
 * stats every entry but reads and parses only the ones that changed. An entry read more than
 * ttl/2 after it was written is read again whatever its signature: owners rewrite theirs every
 * ttl/3, and a network filesystem may serve cached attributes for a while. A file modified less
 * than RACY_MS before it was read is not remembered: a second write in place within the
 * filesystem's timestamp granularity (1 s on some) could leave all four unchanged.
 */
export class EntryCache {
  readonly #byName = new Map<string, CachedRead>();

  get(name: string, signature: string, now: number, ttlMs: number): CachedRead['read'] | undefined {
    const hit = this.#byName.get(name);
    if (!hit || hit.signature !== signature) return undefined;
    if (hit.read.kind === 'ok' && now - hit.read.entry.updatedAt >= ttlMs / 2) return undefined;
    return hit.read;
  }

  set(name: string, signature: string, read: CachedRead['read'], mtimeMs: number): void {
    if (Date.now() - mtimeMs < RACY_MS) this.#byName.delete(name);
    else this.#byName.set(name, { signature, read });
  }

  /** Forgets the entries that are no longer listed. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.#byName.keys()) if (!names.has(name)) this.#byName.delete(name);
  }
}

/** Filesystem timestamps are wall-clock time, whatever clock the provider runs on. */
const RACY_MS = 1000;

/** True for an entry file's name (not a temp file of writeAtomic, not a lock file). */
export const isEntryName = (name: string): boolean => name.endsWith('.json') && !name.startsWith('.');

function parseEntry(text: string): CachedRead['read'] {
  try {
    const entry = Entry.parse(JSON.parse(text));
    parseHostPort(entry.host.includes(':') ? `[${entry.host}]` : entry.host);
    return { kind: 'ok', entry };
  } catch {
    return { kind: 'malformed' };
  }
}

/**
 * Reads every entry of a directory; malformed, stale and dead-owner entries are reported, not thrown.
 * With a cache, unchanged files are not read again (EntryCache).
 */
export async function readEntries(dir: string, now: number, ttlMs: number, cache?: EntryCache): Promise<ReadResult[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = names.filter(isEntryName);
  cache?.retain(new Set(files));
  return Promise.all(
    files.map(async (name): Promise<ReadResult> => {
      const file = path.join(dir, name);
      let read: CachedRead['read'] | undefined;
      try {
        const st = cache ? await stat(file) : undefined;
        const signature = st ? `${st.ino}/${st.size}/${st.mtimeMs}/${st.ctimeMs}` : '';
        read = st ? cache!.get(name, signature, now, ttlMs) : undefined;
        if (!read) {
          read = parseEntry(await readFile(file, 'utf8'));
          if (st) cache!.set(name, signature, read, st.mtimeMs);
        }
      } catch (err) {
        // Deleted between readdir and read: its owner deregistered.
        return { kind: 'skipped', file, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' };
      }
      if (read.kind === 'malformed') return { kind: 'skipped', file, reason: 'malformed entry' };
      const parsed = read.entry;
      if (now - parsed.updatedAt > ttlMs) return { kind: 'skipped', file, reason: `stale (${now - parsed.updatedAt} ms old)` };
      if (deadLocalProcess(parsed)) return { kind: 'skipped', file, reason: `owner process ${parsed.pid} is gone` };
      return { kind: 'ok', entry: parsed, file };
    }),
  );
}

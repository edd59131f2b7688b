import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
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

/** Reads every entry of a directory; malformed, stale and dead-owner entries are reported, not thrown. */
export async function readEntries(dir: string, now: number, ttlMs: number): Promise<ReadResult[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const files = names.filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  return Promise.all(
    files.map(async (name): Promise<ReadResult> => {
      const file = path.join(dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // Deleted between readdir and read: its owner deregistered.
        return { kind: 'skipped', file, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' };
      }
      let parsed: Entry;
      try {
        parsed = Entry.parse(JSON.parse(text));
        parseHostPort(parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host);
      } catch {
        return { kind: 'skipped', file, reason: 'malformed entry' };
      }
      if (now - parsed.updatedAt > ttlMs) return { kind: 'skipped', file, reason: `stale (${now - parsed.updatedAt} ms old)` };
      if (deadLocalProcess(parsed)) return { kind: 'skipped', file, reason: `owner process ${parsed.pid} is gone` };
      return { kind: 'ok', entry: parsed, file };
    }),
  );
}

import net from 'node:net';
import { z } from 'zod';
import { formatHostPort, isValidHostname, normalizeHost } from '../address.js';
import { ProtocolError } from '../errors.js';
import type { ContactPoint } from '../types.js';
import type { FirstSeed } from './seed-lock.js';

/*
 * How registries store a contact point (registration, member, first-seed, lock holder): small JSON.
 * The same encoding for a given point on every node, so compare-and-delete by value works.
 */

const Stored = z.object({
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535).optional(),
  meta: z.record(z.string(), z.string()).optional(),
  /** first-seed only: the formation id (FirstSeed.cluster). */
  cluster: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional(),
  forming: z.literal(true).optional(),
});

export function encodePoint(cp: ContactPoint, withMeta = true): string {
  const out: { host: string; port?: number; meta?: Record<string, string> } = { host: cp.host };
  if (cp.port !== undefined) out.port = cp.port;
  if (withMeta && cp.meta && Object.keys(cp.meta).length > 0) out.meta = { ...cp.meta };
  return JSON.stringify(out);
}

/** A first-seed entry: `{"host","port","cluster"}` (no meta: it is read by every joiner). */
export function encodeFirstSeed(fs: FirstSeed): string {
  const out: { host: string; port?: number; cluster?: string; forming?: true } = { host: fs.point.host };
  if (fs.point.port !== undefined) out.port = fs.point.port;
  if (fs.cluster !== undefined) out.cluster = fs.cluster;
  if (fs.forming) out.forming = true;
  return JSON.stringify(out);
}

export function decodeFirstSeed(text: string, field: string): FirstSeed {
  const fs: FirstSeed = { point: decodePoint(text, field) };
  const { cluster, forming } = parseStored(text, field);
  if (cluster !== undefined) fs.cluster = cluster;
  if (forming) fs.forming = true;
  return fs;
}

function parseStored(text: string, field: string): z.infer<typeof Stored> {
  try {
    return Stored.parse(JSON.parse(text));
  } catch {
    throw new ProtocolError(`${field}: expected {"host","port"} JSON, got ${JSON.stringify(text.slice(0, 80))}`, {
      hint: 'another program wrote this key; remove it or use a different prefix/rootPath',
    });
  }
}

/** Parses a stored point; anything else is a ProtocolError naming `field` (the key or znode). */
export function decodePoint(text: string, field: string): ContactPoint {
  const parsed = parseStored(text, field);
  const host = normalizeHost(parsed.host);
  if (net.isIP(host) === 0 && !isValidHostname(host)) {
    throw new ProtocolError(`${field}: "host" is not an address or hostname`, { hint: 'remove the malformed entry' });
  }
  const cp: ContactPoint = { host };
  if (parsed.port !== undefined) cp.port = parsed.port;
  if (parsed.meta && Object.keys(parsed.meta).length > 0) cp.meta = parsed.meta;
  return cp;
}

/** One path segment / key segment per point: `10.0.0.1%3A7626`. */
export function pointKey(cp: Pick<ContactPoint, 'host' | 'port'>): string {
  return encodeURIComponent(formatHostPort(cp));
}

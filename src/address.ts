import net from 'node:net';
import type { ContactPoint } from './types.js';

/** Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal. Throws a plain Error with the reason. */
export function parseHostPort(input: string): ContactPoint {
  const text = input.trim();
  if (text === '') throw new Error('empty address');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw new Error(`"${text}": missing "]" after IPv6 address`);
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw new Error(`"${text}": expected ":port" after "]"`);
      portText = rest.slice(1);
    }
    if (net.isIPv6(host) === false) throw new Error(`"${text}": "${host}" is not an IPv6 address`);
  } else if (net.isIPv6(text)) {
    host = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host.includes(':')) throw new Error(`"${text}": IPv6 addresses with a port need brackets, e.g. [fd00::1]:7626`);
    } else host = text;
    if (!isValidHostname(host) && !net.isIPv4(host)) throw new Error(`"${text}": "${host}" is not a valid host name or IP address`);
  }
  if (portText === undefined) return { host: normalizeHost(host) };
  return { host: normalizeHost(host), port: parsePort(portText, text) };
}

function parsePort(portText: string, whole: string): number {
  if (!/^\d{1,5}$/.test(portText)) throw new Error(`"${whole}": port must be an integer 1-65535, got "${portText}"`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new Error(`"${whole}": port must be an integer 1-65535, got ${port}`);
  return port;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
export function isValidHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const trimmed = host.endsWith('.') ? host.slice(0, -1) : host;
  return trimmed.split('.').every((l) => LABEL.test(l) || /^_[a-z0-9-]+$/i.test(l));
}

/** IPv6 literals are compared and printed in one form; host names are case-insensitive. */
export function normalizeHost(host: string): string {
  if (net.isIPv6(host)) {
    const bytes = ipv6ToBytes(host);
    return bytes ? formatIPv6(bytes) : host.toLowerCase();
  }
  return host.toLowerCase();
}

export function formatHostPort(cp: Pick<ContactPoint, 'host' | 'port'>): string {
  const host = net.isIPv6(cp.host) ? `[${cp.host}]` : cp.host;
  return cp.port === undefined ? host : `${host}:${cp.port}`;
}

function ipv4ToBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function ipv6ToBytes(ip: string): number[] | undefined {
  let text = ip.split('%')[0]!;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (net.isIPv4(last)) {
    const b = ipv4ToBytes(last);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const parts = text.split('::');
  if (parts.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(parts[0]!);
  const back = parts.length === 2 ? parse(parts[1]!) : [];
  const zeros = parts.length === 2 ? 8 - tail.length - head.length - back.length : 0;
  if (zeros < 0) return undefined;
  const groups = [...head, ...new Array<number>(zeros).fill(0), ...back, ...tail];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return undefined;
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (>= 2) of zero groups, first one on ties.
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** 0 = IPv4, 1 = IPv6, 2 = host name; then bytes for numeric comparison. */
interface SortKey {
  rank: number;
  bytes?: number[] | undefined;
  name?: string | undefined;
}

function sortKey(host: string): SortKey {
  if (net.isIPv4(host)) return { rank: 0, bytes: ipv4ToBytes(host) };
  if (net.isIPv6(host)) {
    const bytes = ipv6ToBytes(host);
    if (bytes) return { rank: 1, bytes };
  }
  return { rank: 2, name: host.toLowerCase() };
}

function compareKeys(ka: SortKey, pa: number | undefined, kb: SortKey, pb: number | undefined): number {
  if (ka.rank !== kb.rank) return ka.rank - kb.rank;
  if (ka.bytes && kb.bytes) {
    for (let i = 0; i < ka.bytes.length; i++) {
      const d = ka.bytes[i]! - kb.bytes[i]!;
      if (d !== 0) return d;
    }
  } else if (ka.name !== kb.name) {
    return ka.name! < kb.name! ? -1 : 1;
  }
  return (pa ?? -1) - (pb ?? -1);
}

/**
 * The canonical order (DESIGN §5.1): IPv4 < IPv6 < host names; addresses numerically (unsigned bytes),
 * names lexicographically (lower-cased); then port, absent port first.
 */
export function compareContactPoints(a: Pick<ContactPoint, 'host' | 'port'>, b: Pick<ContactPoint, 'host' | 'port'>): number {
  return compareKeys(sortKey(a.host), a.port, sortKey(b.host), b.port);
}

export function sameContactPoint(a: Pick<ContactPoint, 'host' | 'port'>, b: Pick<ContactPoint, 'host' | 'port'>): boolean {
  return compareContactPoints(a, b) === 0;
}

/**
 * Sorts into canonical order and drops duplicates by (host, port); the first occurrence's meta wins,
 * so callers that care pass the most informative entry first.
 */
export function canonicalize(points: readonly ContactPoint[]): ContactPoint[] {
  // Each point's sort key is computed once, not once per comparison: views of hundreds of points are
  // sorted after every change of the discovered set.
  const seen = new Map<string, { cp: ContactPoint; key: SortKey }>();
  for (const p of points) {
    const host = normalizeHost(p.host);
    const id = `${host}|${p.port ?? ''}`;
    if (!seen.has(id)) seen.set(id, { cp: { ...p, host }, key: sortKey(host) });
  }
  return [...seen.values()].sort((a, b) => compareKeys(a.key, a.cp.port, b.key, b.cp.port)).map((e) => e.cp);
}

/** Lowest contact point in canonical order, or undefined for an empty list. */
export function lowestOf(points: readonly ContactPoint[]): ContactPoint | undefined {
  let best: ContactPoint | undefined;
  for (const p of points) if (!best || compareContactPoints(p, best) < 0) best = p;
  return best;
}

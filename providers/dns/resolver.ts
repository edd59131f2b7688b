import type { Answer, RecordType } from 'dns-packet';
import type { Clock } from '../../src/clock.js';
import { DiscoveryError, TimeoutError } from '../../src/errors.js';
import { formatHostPort } from '../../src/address.js';
import { NoAnswer, queryServer, type DnsResponse, type Nameserver } from './client.js';

/** A bounded map whose entries expire at their records' TTL (oldest entry evicted first when full). */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  constructor(readonly maxEntries: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, expiresAt: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    while (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * How long a response may be reused: the smallest TTL of its records; a negative answer (NXDOMAIN or
 * no records) lives as long as the zone's SOA says (RFC 2308), or is not cached without one. Capped.
 */
export function cacheTtlSeconds(response: DnsResponse, capSeconds: number): number {
  const records = [...response.answers, ...response.additionals];
  let ttl: number;
  if (records.length > 0) {
    ttl = Math.min(...records.map((r) => ('ttl' in r && typeof r.ttl === 'number' ? r.ttl : 0)));
  } else {
    const soa = response.authorities.find((r) => r.type === 'SOA');
    ttl = soa && soa.type === 'SOA' ? Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0) : 0;
  }
  return Math.max(0, Math.min(ttl, capSeconds));
}

export interface ResolverOptions {
  servers: readonly Nameserver[];
  timeoutMs: number;
  /** Rounds over all servers before giving up. */
  tries: number;
  /** Upper bound on how long a response is reused, whatever its TTL [ms]. */
  maxCacheTtlMs: number;
  maxCacheEntries: number;
  clock: Clock;
}

const RCODE_HINTS: Record<string, string> = {
  SERVFAIL: 'the nameserver could not get an answer from upstream (SERVFAIL); check the DNS server and the zone, the lookup is retried',
  REFUSED: 'the nameserver refuses to answer this query (REFUSED); check the "nameservers" setting and the server\'s ACL / recursion policy',
};

/**
 * Asks the configured nameservers in turn (each `tries` times, round-robin like resolv.conf's
 * `attempts`), caches answers for their TTL, and turns failures into typed errors. NXDOMAIN and
 * empty answers are answers, not failures.
 */
export class CachingResolver {
  readonly #options: ResolverOptions;
  readonly #cache: TtlCache<DnsResponse>;

  constructor(options: ResolverOptions) {
    this.#options = options;
    this.#cache = new TtlCache(options.maxCacheEntries);
  }

  async query(name: string, type: RecordType, signal: AbortSignal): Promise<DnsResponse> {
    const key = `${type} ${name.toLowerCase()}`;
    const cached = this.#cache.get(key, this.#options.clock.now());
    if (cached) return cached;
    const response = await this.#queryServers(name, type, signal);
    const ttlMs = cacheTtlSeconds(response, this.#options.maxCacheTtlMs / 1000) * 1000;
    if (ttlMs > 0) this.#cache.set(key, response, this.#options.clock.now() + ttlMs);
    return response;
  }

  async #queryServers(name: string, type: RecordType, signal: AbortSignal): Promise<DnsResponse> {
    const { servers, timeoutMs, tries } = this.#options;
    const failures: string[] = [];
    let rcodeFailure: DnsResponse | undefined;
    let allTimeouts = true;
    for (let attempt = 0; attempt < tries; attempt++) {
      for (const server of servers) {
        try {
          const response = await queryServer(server, name, type, { signal, timeoutMs });
          if (response.rcode === 'NOERROR' || response.rcode === 'NXDOMAIN') return response;
          // SERVFAIL / REFUSED / others: another server (or a later round) may do better.
          rcodeFailure = response;
          allTimeouts = false;
          failures.push(`${response.server}: ${response.rcode}`);
        } catch (err) {
          if (!(err instanceof NoAnswer)) throw err;
          if (err.reason !== 'timeout') allTimeouts = false;
          failures.push(err.message);
        }
      }
    }
    const what = `dns: lookup of ${name} ${type} failed`;
    const detail = [...new Set(failures)].join('; ');
    const serverList = servers.map((s) => formatHostPort(s)).join(', ');
    if (rcodeFailure) {
      throw new DiscoveryError(`${what}: ${detail}`, {
        hint: RCODE_HINTS[rcodeFailure.rcode] ?? `the nameserver answered ${rcodeFailure.rcode}; check the DNS server`,
      });
    }
    if (allTimeouts) {
      throw new TimeoutError(`${what}: no answer from ${serverList} (${tries} × ${timeoutMs} ms each)`, {
        hint: 'check that the nameservers are reachable over UDP and TCP (port 53 unless configured) from this host, or raise discovery.timeoutMs',
      });
    }
    throw new DiscoveryError(`${what}: ${detail}`, { hint: 'check the "nameservers" setting and the network path to them' });
  }

  clear(): void {
    this.#cache.clear();
  }
}

/** Owner names compare case-insensitively and without the trailing dot. */
export function sameName(a: string, b: string): boolean {
  const norm = (s: string) => (s.endsWith('.') ? s.slice(0, -1) : s).toLowerCase();
  return norm(a) === norm(b);
}

/** Follows CNAMEs inside one answer section: the names whose records answer for `name`. */
export function cnameChain(name: string, answers: readonly Answer[], maxDepth = 8): string[] {
  const chain = [name];
  let current = name;
  for (let i = 0; i < maxDepth; i++) {
    const cname = answers.find((a) => a.type === 'CNAME' && sameName(a.name, current));
    const target = cname && cname.type === 'CNAME' ? cname.data : undefined;
    if (typeof target !== 'string' || chain.some((n) => sameName(n, target))) break;
    current = target;
    chain.push(current);
  }
  return chain;
}

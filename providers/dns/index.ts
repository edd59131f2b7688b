import dns from 'node:dns';
import net from 'node:net';
import type { Answer, SrvAnswer } from 'dns-packet';
import { canonicalize, parseHostPort } from '../../src/address.js';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint, DiscoveryProvider, Lookup, ProviderContext, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import type { Nameserver } from './client.js';
import { aliases, method, DnsOptions } from './options.js';
import { CachingResolver, cnameChain, sameName } from './resolver.js';
import { candidateNames, NO_SEARCH, readResolvConf, type SearchSettings } from './search.js';

/** What the provider reads from the system resolver when not configured (injectable for tests). */
export interface SystemResolver {
  servers(): string[];
  resolvConf(): SearchSettings;
}
const systemResolver: SystemResolver = { servers: () => dns.getServers(), resolvConf: () => readResolvConf() };

type AddressType = 'A' | 'AAAA';

/** `IP[:port]` → nameserver; names are refused (resolving the resolver would need a resolver). */
export function parseNameservers(list: readonly string[], origin: string): Nameserver[] {
  return list.map((text, i) => {
    const { host, port } = parseHostPort(text);
    if (net.isIP(host) === 0) {
      throw new ConfigError(`${origin}[${i}]: "${text}" is not an IP address`, { hint: 'nameservers are given as IP[:port], e.g. 10.0.0.2 or 127.0.0.1:8600' });
    }
    return { host, port: port ?? 53 };
  });
}

/**
 * DNS discovery (Pekko's `pekko-dns`): A/AAAA records give hosts (Kubernetes headless services,
 * Weave DNS); SRV records give host and port (Consul DNS, Kubernetes named ports). Queries go
 * straight to the nameservers with dns-packet so the provider sees TTLs, additional records and the
 * response code, which node's resolver API hides.
 */
export class DnsProvider implements DiscoveryProvider {
  readonly method = method;
  readonly #options: DnsOptions;
  readonly #resolver: CachingResolver;
  readonly #logger: Logger;
  readonly #search: SearchSettings;

  constructor(options: DnsOptions, context: Pick<ProviderContext, 'clock' | 'logger'>, system: SystemResolver = systemResolver) {
    this.#options = options;
    this.#logger = context.logger;
    const useSystem = options.nameservers.length === 0;
    const servers = useSystem
      ? parseNameservers(system.servers(), 'system resolver (/etc/resolv.conf) nameservers')
      : parseNameservers(options.nameservers, 'discovery.nameservers');
    const base = options.searchDomains !== undefined ? { search: options.searchDomains, ndots: 1 } : useSystem ? system.resolvConf() : NO_SEARCH;
    this.#search = { search: base.search.map((d) => d.replace(/^\.|\.$/g, '')), ndots: options.ndots ?? base.ndots };
    if (servers.length === 0) {
      throw new ConfigError('dns: no nameservers configured and the system resolver has none', { hint: 'set discovery.nameservers, e.g. ["10.0.0.2"]' });
    }
    this.#resolver = new CachingResolver({
      servers,
      timeoutMs: options.timeoutMs,
      tries: options.tries,
      maxCacheTtlMs: options.maxCacheTtlMs,
      maxCacheEntries: 256,
      clock: context.clock,
    });
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const signal = options.signal ?? new AbortController().signal;
    const name = this.#options.name ?? lookup.service;
    const { portName, protocol } = this.#options;
    const recordType = this.#options.recordType ?? (portName && protocol ? 'SRV' : 'A');
    // Like the system resolver: the first candidate name with records wins; failures are not skipped.
    for (const candidate of candidateNames(name, this.#search)) {
      const points =
        recordType === 'SRV'
          ? await this.#srv(portName && protocol ? `_${portName}._${protocol}.${candidate}` : candidate, signal)
          : (await this.#addresses(candidate, recordType, signal)).map((host) => ({ host }));
      if (points.length > 0) return canonicalize(points);
    }
    return [];
  }

  /** IPs for `name` (following CNAMEs, also across queries); [] for NXDOMAIN / no records. */
  async #addresses(name: string, type: AddressType, signal: AbortSignal, depth = 0): Promise<string[]> {
    const response = await this.#resolver.query(name, type, signal);
    if (response.rcode === 'NXDOMAIN') return [];
    const chain = cnameChain(name, response.answers);
    const ips = addressesIn(response.answers, chain, type, `${name} ${type}`);
    const last = chain[chain.length - 1]!;
    // A CNAME to a name the server did not resolve for us (not recursive, other zone): ask again.
    if (ips.length === 0 && chain.length > 1 && depth < 8) return this.#addresses(last, type, signal, depth + 1);
    return ips;
  }

  async #srv(name: string, signal: AbortSignal): Promise<ContactPoint[]> {
    const response = await this.#resolver.query(name, 'SRV', signal);
    if (response.rcode === 'NXDOMAIN') return [];
    const chain = cnameChain(name, response.answers);
    const records = response.answers.filter((a): a is SrvAnswer => a.type === 'SRV' && chain.some((n) => sameName(n, a.name)));
    const targets: { target: string; port: number; meta: Record<string, string> }[] = [];
    for (const [i, record] of records.entries()) {
      const { port, target, priority, weight } = record.data ?? ({} as SrvAnswer['data']);
      const where = `SRV ${name} answer ${i}`;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ProtocolError(`dns: ${where}: port: expected integer 0-65535, got ${String(port)}`);
      if (typeof target !== 'string') throw new ProtocolError(`dns: ${where}: target: expected a domain name`);
      // RFC 2782: target "." means "decidedly not available"; port 0 likewise cannot be contacted.
      if (target === '' || target === '.' || port === 0) continue;
      targets.push({ target, port, meta: { target: target.replace(/\.$/, ''), priority: String(priority), weight: String(weight) } });
    }
    // Targets missing from the additional section are looked up a few at a time (one query each):
    // concurrent enough to hide round trips, bounded so a 500-record answer is no query burst.
    const resolved = await mapBounded(targets, TARGET_LOOKUP_CONCURRENCY, (t) => this.#targetAddresses(t.target, response.additionals, signal));
    return targets.flatMap(({ target, port, meta }, i) => {
      const hosts = resolved[i]!;
      if (hosts.length > 0) return hosts.map((host) => ({ host, port, meta }));
      this.#logger.debug({ target }, 'dns: SRV target has no address records; reporting it by name');
      return [{ host: meta.target!, port, meta }];
    });
  }

  /**
   * A target's IPs from the additional section (Consul, CoreDNS send them) or else its own lookups;
   * IPv4 when it has any, so a dual-stack node is one contact point, not two.
   */
  async #targetAddresses(target: string, additionals: readonly Answer[], signal: AbortSignal): Promise<string[]> {
    for (const type of ['A', 'AAAA'] as const) {
      const ips = addressesIn(additionals, cnameChain(target, additionals), type, `additional ${target} ${type}`);
      if (ips.length > 0) return ips;
    }
    for (const type of ['A', 'AAAA'] as const) {
      const ips = await this.#addresses(target, type, signal);
      if (ips.length > 0) return ips;
    }
    return [];
  }

  async close(): Promise<void> {
    this.#resolver.clear();
  }
}

const TARGET_LOOKUP_CONCURRENCY = 6;

/** `items.map(fn)` with at most `limit` calls in flight; results in input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Address records of `type` owned by one of `names`; a record that is not an IP is a protocol error. */
function addressesIn(records: readonly Answer[], names: readonly string[], type: AddressType, where: string): string[] {
  const ips: string[] = [];
  for (const r of records) {
    if (r.type !== type || !names.some((n) => sameName(n, r.name))) continue;
    const ip = r.data;
    if (typeof ip !== 'string' || net.isIP(ip) !== (type === 'A' ? 4 : 6)) {
      throw new ProtocolError(`dns: ${where}: data: expected an IPv${type === 'A' ? 4 : 6} address, got ${JSON.stringify(ip)}`);
    }
    ips.push(ip);
  }
  return ips;
}

export const definition: ProviderDefinition<DnsOptions> = {
  method,
  aliases,
  options: DnsOptions,
  create: (options, context) => new DnsProvider(options, context),
};

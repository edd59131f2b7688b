import dgram from 'node:dgram';
import type { Answer } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { cacheTtlSeconds, cnameChain, TtlCache } from '../../providers/dns/resolver.js';
import { DnsProvider, parseNameservers } from '../../providers/dns/index.js';
import { candidateNames, parseResolvConf } from '../../providers/dns/search.js';
import { DnsOptions } from '../../providers/dns/options.js';
import { createDiscovery } from '../../src/registry.js';
import { silentLogger } from '../../src/logger.js';
import { systemClock } from '../../src/clock.js';
import { spawnDnsServer } from '../servers/dns-server.js';

const rec = (type: string, name: string, data: unknown, ttl = 30) => ({ type, name, data, ttl, class: 'IN' }) as unknown as Answer;
const response = (answers: Answer[], additionals: Answer[] = [], authorities: Answer[] = []) => ({
  rcode: 'NOERROR',
  answers,
  additionals,
  authorities,
  server: 'x',
});

describe('dns resolver logic', () => {
  it('cache TTL: smallest record TTL, SOA minimum for negative answers, capped', () => {
    expect(cacheTtlSeconds(response([rec('A', 'a', '10.0.0.1', 30), rec('A', 'a', '10.0.0.2', 7)]), 60)).toBe(7);
    expect(cacheTtlSeconds(response([rec('SRV', 's', {}, 30)], [rec('A', 't', '10.0.0.1', 0)]), 60)).toBe(0);
    expect(cacheTtlSeconds(response([rec('A', 'a', '10.0.0.1', 3600)]), 30)).toBe(30);
    const soa = rec('SOA', 'test', { minimum: 5 }, 60);
    expect(cacheTtlSeconds(response([], [], [soa]), 30)).toBe(5);
    expect(cacheTtlSeconds(response([]), 30)).toBe(0);
  });

  it('TtlCache expires entries and evicts the oldest beyond its bound', () => {
    const cache = new TtlCache<number>(2);
    cache.set('a', 1, 100);
    cache.set('b', 2, 100);
    expect(cache.get('a', 99)).toBe(1);
    cache.set('c', 3, 100);
    expect(cache.size).toBe(2);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('c', 100)).toBeUndefined(); // expired at its time
  });

  it('cnameChain follows CNAMEs case-insensitively and stops on loops', () => {
    const answers = [rec('CNAME', 'Web.test.', 'b.test'), rec('CNAME', 'b.test', 'c.test'), rec('CNAME', 'c.test', 'web.test')];
    expect(cnameChain('web.test', answers)).toEqual(['web.test', 'b.test', 'c.test']);
  });

  it('nameservers must be IP literals; port 53 by default', () => {
    expect(parseNameservers(['10.0.0.2', '[fd00::53]:5353'], 'ns')).toEqual([
      { host: '10.0.0.2', port: 53 },
      { host: 'fd00::53', port: 5353 },
    ]);
    expect(() => parseNameservers(['ns.example'], 'ns')).toThrow('ns[0]: "ns.example" is not an IP address');
  });

  it("without nameservers the system resolver's servers are used", () => {
    const options = DnsOptions.parse({ method: 'dns' });
    const system = (servers: string[]) => ({ servers: () => servers, resolvConf: () => ({ search: [], ndots: 1 }) });
    expect(() => new DnsProvider(options, { clock: systemClock, logger: silentLogger }, system([]))).toThrow('no nameservers configured');
    expect(() => new DnsProvider(options, { clock: systemClock, logger: silentLogger }, system(['127.0.0.53']))).not.toThrow();
  });

  it('resolv.conf: last search/domain line wins, ndots option, comments', () => {
    const conf =
      'domain corp.example\nnameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local. # k8s\noptions ndots:5 timeout:2\n';
    expect(parseResolvConf(conf)).toEqual({ search: ['default.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 });
    expect(parseResolvConf('nameserver 1.1.1.1\n')).toEqual({ search: [], ndots: 1 });
  });

  it('candidate names follow ndots; a trailing dot is absolute', () => {
    const k8s = { search: ['default.svc.cluster.local', 'cluster.local'], ndots: 5 };
    expect(candidateNames('products', k8s)).toEqual(['products.default.svc.cluster.local', 'products.cluster.local', 'products']);
    expect(candidateNames('products.default.svc.cluster.local', { ...k8s, ndots: 1 })).toEqual([
      'products.default.svc.cluster.local',
      'products.default.svc.cluster.local.default.svc.cluster.local',
      'products.default.svc.cluster.local.cluster.local',
    ]);
    expect(candidateNames('products.default.svc.cluster.local.', k8s)).toEqual(['products.default.svc.cluster.local']);
  });
});

describe('dns over IPv6', () => {
  it('asks an IPv6 nameserver and returns AAAA records in canonical (numeric) order', async () => {
    const server = await spawnDnsServer(
      { shuffle: true, records: ['fd00::10', 'fd00::9', 'fd00::a'].map((ip) => ({ name: 'v6.test', type: 'AAAA' as const, data: ip })) },
      '::1',
    );
    try {
      const provider = await createDiscovery({ method: 'dns', nameservers: [server.address], recordType: 'AAAA' });
      expect((await provider.resolve({ service: 'v6.test' })).map((p) => p.host)).toEqual(['fd00::9', 'fd00::a', 'fd00::10']);
    } finally {
      await server.stop();
    }
  });

  it('answers from another source port than the server asked are ignored (then a timeout)', async () => {
    // A "server" that answers from a different socket: a spoofing attempt must not be accepted.
    const listener = dgram.createSocket('udp4');
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => listener.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()));
    listener.on('message', (msg, rinfo) => {
      const reply = Buffer.from(msg);
      reply[2] = 0x81; // QR=1, RD=1
      reply[3] = 0x80; // RA=1, NOERROR, no answers
      other.send(reply, rinfo.port, rinfo.address);
    });
    try {
      const provider = await createDiscovery({ method: 'dns', nameservers: [`127.0.0.1:${listener.address().port}`], timeoutMs: 200, tries: 1 });
      await expect(provider.resolve({ service: 'x.test' })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT' });
    } finally {
      listener.close();
      other.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscovery } from '../../src/registry.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import { ClusterseedError } from '../../src/errors.js';
import { main } from '../../src/cli/main.js';
import { spawnDnsServer, type DnsServerProcess, type Zone, type ZoneRecord } from '../servers/dns-server.js';

const a = (name: string, ip: string, ttl = 30): ZoneRecord => ({ name, type: 'A', data: ip, ttl });
const srv = (name: string, target: string, port: number, ttl = 30): ZoneRecord => ({ name, type: 'SRV', data: { target, port }, ttl });

// Kubernetes headless service: one A record per ready pod, in random order.
const k8sPods = Array.from({ length: 12 }, (_, i) => a('products.default.svc.cluster.local', `10.244.${i % 3}.${200 - i * 7}`));
// Consul DNS: SRV for healthy instances, node addresses in the additional section.
const consul = [
  srv('products.service.consul', '0a000109.addr.dc1.consul', 25520),
  srv('products.service.consul', '0a000107.addr.dc1.consul', 25521),
  a('0a000109.addr.dc1.consul', '10.0.1.9', 0),
  a('0a000107.addr.dc1.consul', '10.0.1.7', 0),
];
// Weave DNS: A records by container name, order randomized on every answer.
const weave = [a('dataproducer.weave.local', '10.36.0.2', 1), a('dataproducer.weave.local', '10.32.0.2', 1), a('dataproducer.weave.local', '10.40.0.1', 1)];

const zone: Zone = {
  shuffle: true,
  records: [
    ...k8sPods,
    ...consul,
    ...weave,
    // Kubernetes named port: _<port>._<proto>.<svc>, targets are pod names without additionals here.
    srv('_management._tcp.products.default.svc.cluster.local', 'pod-b.products.default.svc.cluster.local', 8558),
    srv('_management._tcp.products.default.svc.cluster.local', 'pod-a.products.default.svc.cluster.local', 8558),
    srv('_management._tcp.products.default.svc.cluster.local', 'unresolvable.example', 8558),
    srv('_management._tcp.products.default.svc.cluster.local', '.', 8558),
    { name: 'unresolvable.example', type: 'CNAME', data: 'nowhere.example' },
    { name: 'v6.test', type: 'AAAA', data: 'fd00::2' },
    { name: 'v6.test', type: 'AAAA', data: 'fd00::1' },
    { name: 'alias.test', type: 'CNAME', data: 'v6.test' },
    { name: 'only-v6.test', type: 'AAAA', data: 'fd00::9' },
    srv('dual.test', 'only-v6.test', 9000),
    a('old-server.test', '10.7.7.7'),
    ...Array.from({ length: 80 }, (_, i) => a('big.test', `10.1.${Math.floor(i / 250)}.${i + 1}`)),
  ],
  additionals: true,
  behaviours: {
    'old-server.test': 'no-edns',
    'big.test': 'truncate',
    'broken.test': 'servfail',
    'private.test': 'refused',
    'black-hole.test': 'drop',
    'garbage.test': 'garbage',
  },
};
zone.records.push(a('pod-a.products.default.svc.cluster.local', '10.244.1.5'), a('pod-b.products.default.svc.cluster.local', '10.244.0.9'));

let server: DnsServerProcess;
let spare: DnsServerProcess;
beforeAll(async () => {
  [server, spare] = await Promise.all([spawnDnsServer(zone), spawnDnsServer({ records: [a('black-hole.test', '10.9.9.9')] })]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), spare?.stop()]);
});

const dns = (options: Record<string, unknown>, extra: { clock?: VirtualClock } = {}) =>
  createDiscovery({ method: 'dns', nameservers: [server.address], ...options }, extra);
const hosts = (points: { host: string; port?: number }[]) => points.map((p) => (p.port === undefined ? p.host : `${p.host}:${p.port}`));

async function failure(promise: Promise<unknown>): Promise<ClusterseedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClusterseedError);
  return err as ClusterseedError;
}

describe('dns provider against a real DNS server', () => {
  it('Kubernetes headless service: every A record, in canonical order whatever order the server sends', async () => {
    const provider = await dns({ name: 'products.default.svc.cluster.local', maxCacheTtlMs: 0 });
    const expected = [...new Set(k8sPods.map((r) => r.data as string))].sort((x, y) =>
      x
        .split('.')
        .map(Number)
        .reduce((d, v, i) => d || v - Number(y.split('.')[i]), 0),
    );
    for (let i = 0; i < 5; i++) expect(hosts(await provider.resolve({ service: 'products' }))).toEqual(expected);
    await provider.close();
  });

  it('Weave DNS style: randomized A answers become one stable order (numeric, not textual)', async () => {
    const provider = await dns({ maxCacheTtlMs: 0 });
    const results = new Set<string>();
    for (let i = 0; i < 5; i++) results.add(JSON.stringify(await provider.resolve({ service: 'dataproducer.weave.local' })));
    expect([...results]).toEqual([JSON.stringify([{ host: '10.32.0.2' }, { host: '10.36.0.2' }, { host: '10.40.0.1' }])]);
  });

  it('Consul DNS style: SRV targets resolved from the additional section, no extra lookups', async () => {
    const provider = await dns({ name: 'products.service.consul', recordType: 'SRV', maxCacheTtlMs: 0 });
    const points = await provider.resolve({ service: 'ignored' });
    expect(points).toEqual([
      { host: '10.0.1.7', port: 25521, meta: { target: '0a000107.addr.dc1.consul', priority: '1', weight: '1' } },
      { host: '10.0.1.9', port: 25520, meta: { target: '0a000109.addr.dc1.consul', priority: '1', weight: '1' } },
    ]);
    const stats = await server.stats();
    expect(stats['A 0a000107.addr.dc1.consul']).toBeUndefined();
  });

  it('Kubernetes named port: _port._proto.name, targets looked up, unresolvable target kept by name, "." skipped', async () => {
    const bare = await spawnDnsServer({ ...zone, additionals: false });
    try {
      const provider = await createDiscovery({
        method: 'dns',
        nameservers: [bare.address],
        name: 'products.default.svc.cluster.local',
        portName: 'management',
        protocol: 'tcp',
      });
      expect(hosts(await provider.resolve({ service: 'products' }))).toEqual(['10.244.0.9:8558', '10.244.1.5:8558', 'unresolvable.example:8558']);
      const stats = await bare.stats();
      expect(stats['A pod-a.products.default.svc.cluster.local']).toBe(1);
      expect(stats['SRV _management._tcp.products.default.svc.cluster.local']).toBe(1);
    } finally {
      await bare.stop();
    }
  });

  it('SRV target with only AAAA records gives its IPv6 address', async () => {
    const provider = await dns({ name: 'dual.test', recordType: 'SRV' });
    expect(await provider.resolve({ service: 'x' })).toEqual([{ host: 'fd00::9', port: 9000, meta: { target: 'only-v6.test', priority: '1', weight: '1' } }]);
  });

  it('AAAA lookups, through a CNAME', async () => {
    const provider = await dns({ recordType: 'AAAA' });
    expect(hosts(await provider.resolve({ service: 'alias.test' }))).toEqual(['fd00::1', 'fd00::2']);
  });

  it('NXDOMAIN and NODATA are empty answers, not errors', async () => {
    const provider = await dns({});
    expect(await provider.resolve({ service: 'no-such-name.test' })).toEqual([]);
    expect(await provider.resolve({ service: 'v6.test' })).toEqual([]); // has AAAA only
    expect(await (await dns({ recordType: 'SRV' })).resolve({ service: 'no-such-name.test' })).toEqual([]);
  });

  it('a truncated UDP answer is retried over TCP', async () => {
    const provider = await dns({ name: 'big.test' });
    const points = await provider.resolve({ service: 'x' });
    expect(points).toHaveLength(80);
    expect(points[0]).toEqual({ host: '10.1.0.1' });
    expect((await server.stats())['A big.test']).toBe(2); // UDP (truncated) + TCP
  });

  it('a server that answers FORMERR to EDNS0 is asked again without it', async () => {
    expect(await (await dns({ tries: 1 })).resolve({ service: 'old-server.test' })).toEqual([{ host: '10.7.7.7' }]);
    expect((await server.stats())['A old-server.test']).toBe(2);
  });

  it('SERVFAIL and REFUSED are retriable discovery errors with hints', async () => {
    const servfail = await failure((await dns({ tries: 1 })).resolve({ service: 'broken.test' }));
    expect(servfail).toMatchObject({ code: 'CLUSTERSEED_E_DISCOVERY', retriable: true });
    expect(servfail.message).toContain('SERVFAIL');
    const refused = await failure((await dns({ tries: 1 })).resolve({ service: 'private.test' }));
    expect(refused.message).toContain('REFUSED');
    expect(refused.hint).toContain('nameservers');
  });

  it('no answer is a TimeoutError naming the servers; the next nameserver is asked', async () => {
    const silent = await failure((await dns({ timeoutMs: 150, tries: 2 })).resolve({ service: 'black-hole.test' }));
    expect(silent).toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT' });
    expect(silent.message).toContain(server.address);
    expect(silent.hint).toMatch(/reachable/);
    const fallback = await createDiscovery({ method: 'dns', nameservers: [server.address, spare.address], timeoutMs: 150, tries: 1 });
    expect(await fallback.resolve({ service: 'black-hole.test' })).toEqual([{ host: '10.9.9.9' }]);
  });

  it('a malformed response is a ProtocolError', async () => {
    const err = await failure((await dns({ tries: 1, timeoutMs: 300 })).resolve({ service: 'garbage.test' }));
    expect(err.code).toBe('CLUSTERSEED_E_PROTOCOL');
  });

  it('honours the AbortSignal while waiting', async () => {
    const provider = await dns({ timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = provider.resolve({ service: 'black-hole.test' }, { signal: controller.signal });
    controller.abort();
    expect((await failure(pending)).code).toBe('CLUSTERSEED_E_ABORTED');
  });

  it('caches answers for their TTL (bounded by maxCacheTtlMs); TTL 0 is never cached', async () => {
    const clock = new VirtualClock(1_000_000);
    const provider = await dns({ maxCacheTtlMs: 10_000 }, { clock });
    const key = 'A dataproducer.weave.local';
    const before = (await server.stats())[key] ?? 0;
    await provider.resolve({ service: 'dataproducer.weave.local' });
    await provider.resolve({ service: 'dataproducer.weave.local' });
    expect((await server.stats())[key]).toBe(before + 1);
    await clock.advance(1_001); // the records' TTL is 1 s
    await provider.resolve({ service: 'dataproducer.weave.local' });
    expect((await server.stats())[key]).toBe(before + 2);

    const srvProvider = await dns({ name: 'products.service.consul', recordType: 'SRV' }, { clock });
    const srvBefore = (await server.stats())['SRV products.service.consul'] ?? 0;
    await srvProvider.resolve({ service: 'x' });
    await srvProvider.resolve({ service: 'x' });
    expect((await server.stats())['SRV products.service.consul']).toBe(srvBefore + 2); // additionals have TTL 0
  });

  it('a cached answer is replaced once it expires: new records become visible', async () => {
    const own = await spawnDnsServer({ records: [a('svc.test', '10.0.0.1', 5)] });
    try {
      const clock = new VirtualClock(0);
      const provider = await createDiscovery({ method: 'dns', nameservers: [own.address] }, { clock });
      expect(hosts(await provider.resolve({ service: 'svc.test' }))).toEqual(['10.0.0.1']);
      await own.setZone({ records: [a('svc.test', '10.0.0.1', 5), a('svc.test', '10.0.0.2', 5)] });
      expect(hosts(await provider.resolve({ service: 'svc.test' }))).toEqual(['10.0.0.1']);
      await clock.advance(5_000);
      expect(hosts(await provider.resolve({ service: 'svc.test' }))).toEqual(['10.0.0.1', '10.0.0.2']);
    } finally {
      await own.stop();
    }
  });

  it('search domains: a short name is tried with each domain (Kubernetes pod style); none by default with explicit nameservers', async () => {
    const provider = await dns({ searchDomains: ['other.svc.cluster.local', 'default.svc.cluster.local'], maxCacheTtlMs: 0 });
    expect(await provider.resolve({ service: 'products' })).toHaveLength(12);
    const stats = await server.stats();
    expect(stats['A products.other.svc.cluster.local']).toBeGreaterThan(0); // tried first, NXDOMAIN
    const srv = await dns({ searchDomains: ['default.svc.cluster.local'], portName: 'management', protocol: 'tcp' });
    expect((await srv.resolve({ service: 'products' })).map((p) => p.port)).toContain(8558);
    expect(await (await dns({})).resolve({ service: 'products' })).toEqual([]);
  });

  it('rejects nameservers that are not IP addresses', async () => {
    const err = await failure(createDiscovery({ method: 'dns', nameservers: ['dns.example:53'] }));
    expect(err.code).toBe('CLUSTERSEED_E_CONFIG');
    expect(err.message).toContain('discovery.nameservers[0]');
  });

  it('clusterseed resolve with the pekko-dns alias and the one-line form', async () => {
    let stdout = '';
    let stderr = '';
    const code = await main(
      ['resolve', '--service', 'dataproducer.weave.local', '--discovery', `method=pekko-dns nameservers=${server.address}`, '--format', 'lines'],
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        env: {},
        signal: new AbortController().signal,
      },
    );
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: '10.32.0.2\n10.36.0.2\n10.40.0.1\n', stderr: '' });
  });
});

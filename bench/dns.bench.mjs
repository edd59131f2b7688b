// dns provider: lookup latency and queries per lookup against the test DNS server (in this process,
// real UDP/TCP on loopback): a 50-pod headless service (A), cached vs uncached; Consul-style SRV with
// the targets in the additional section vs without (one A query per target); 500 records through a
// truncated UDP answer and the TCP retry. Run: npm run bench -- dns
import { register } from 'tsx/esm/api';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const unregister = register();
const { startDnsServer } = await import(pathToFileURL(path.join(root, 'test/servers/dns-server.ts')).href);
await unregister();
const { createDiscovery } = await import(pathToFileURL(path.join(root, 'dist/src/registry.js')).href);

const a = (name, ip) => ({ name, type: 'A', data: ip, ttl: 30 });
const records = [];
for (let i = 0; i < 50; i++) records.push(a('pods.test', `10.244.${i >> 4}.${i + 1}`));
for (let i = 0; i < 50; i++) {
  records.push({ name: 'svc.service.consul', type: 'SRV', data: { target: `n${i}.node.consul`, port: 25520 + i }, ttl: 0 });
  records.push(a(`n${i}.node.consul`, `10.0.${i >> 4}.${i + 1}`));
}
for (let i = 0; i < 500; i++) records.push(a('big.test', `10.1.${i >> 8}.${i & 255}`));

let zone = { records, shuffle: true, behaviours: { 'big.test': 'truncate' } };
let queries = 0;
const server = await startDnsServer(
  () => zone,
  () => queries++,
);
const nameservers = [`127.0.0.1:${server.port}`];

async function measure(label, options, service, iterations) {
  const provider = await createDiscovery({ method: 'dns', nameservers, ...options });
  await provider.resolve({ service }); // warm-up (module load, first socket)
  const before = queries;
  const times = [];
  let count = 0;
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    count = (await provider.resolve({ service })).length;
    times.push(performance.now() - t);
  }
  times.sort((x, y) => x - y);
  const mean = times.reduce((s, x) => s + x, 0) / times.length;
  const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))];
  console.log(
    `${label.padEnd(52)} ${String(count).padStart(4)} points  mean ${mean.toFixed(3).padStart(7)} ms  p99 ${p99.toFixed(3).padStart(7)} ms  ` +
      `${((queries - before) / iterations).toFixed(2).padStart(6)} queries/lookup`,
  );
  await provider.close();
}

await measure('A, 50 pods, uncached (maxCacheTtlMs 0)', { maxCacheTtlMs: 0 }, 'pods.test', 500);
await measure('A, 50 pods, cached (TTL 30 s)', {}, 'pods.test', 500);
await measure('SRV, 50 targets in the additional section', { recordType: 'SRV', name: 'svc.service.consul' }, 'x', 200);
zone = { ...zone, additionals: false };
await measure('SRV, 50 targets, no additionals (A query each)', { recordType: 'SRV', name: 'svc.service.consul', maxCacheTtlMs: 0 }, 'x', 50);
await measure('A, 500 records: truncated UDP, then TCP', { maxCacheTtlMs: 0 }, 'big.test', 100);
await server.close();

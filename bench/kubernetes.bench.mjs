// kubernetes-api against the Kubernetes API emulator (test/emulators/kubernetes, HTTPS) with a
// per-request latency like a real API server's: wall time and requests per resolve for 1,000 and
// 5,000 Running pods (500 a page), next to one unpaged list in the same run; then the `lock`
// strategy on Leases for 10 and 50 nodes (last start → all decided) with HTTP requests per node.
// The emulator runs in this process (its JSON encoding shares the CPU: the figures are upper bounds).
// Run: npm run bench -- kubernetes
import { performance } from 'node:perf_hooks';
import { closeNodes, createDiscovery, formCluster, importTs } from './lib/lock-formation.mjs';

const [{ startKubernetesEmulator }] = await importTs('test/emulators/kubernetes/index.ts');

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const emu = await startKubernetesEmulator();
const discoveryOf = (extra = {}) => ({
  method: 'kubernetes-api',
  apiServer: emu.url,
  caFile: emu.caFile,
  tokenFile: emu.tokenFile,
  namespace: 'default',
  portName: 'management',
  ...extra,
});
for (const [service, count] of [
  ['p1000', 1000],
  ['p5000', 5000],
]) {
  for (let n = 0; n < count; n++) {
    emu.addPod({
      name: `${service}-${n}`,
      labels: { app: service },
      podIP: `10.${Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`,
      containers: [{ name: 'app', ports: [{ name: 'management', containerPort: 7626 }] }],
    });
  }
}
emu.faults.latencyMs = LATENCY_MS;

const provider = await createDiscovery(discoveryOf());
for (const [service, count] of [
  ['p1000', 1000],
  ['p5000', 5000],
]) {
  const times = [];
  let requests = 0;
  let points = 0;
  for (let r = 0; r < RUNS; r++) {
    emu.resetRequests();
    const t = performance.now();
    points = (await provider.resolve({ service })).length;
    times.push(performance.now() - t);
    requests = emu.requests.length;
  }
  // One unpaged list (limit absent): what a client without paging does; the same pods in one body.
  const single = [];
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    const res = await fetchUnpaged(service);
    single.push(performance.now() - t);
    if (res !== count) throw new Error(`unpaged list returned ${res} pods`);
  }
  if (points !== count) throw new Error(`resolve returned ${points} of ${count} pods`);
  console.log(
    `kubernetes-emulator ${String(count).padStart(5)} pods, ${LATENCY_MS} ms/request: resolve ${median(times).toFixed(0).padStart(5)} ms ` +
      `(median of ${RUNS}), ${requests} requests/resolve (500 a page)   ` +
      `one unpaged list ${median(single).toFixed(0).padStart(5)} ms, 1 request   contact points ${points}`,
  );
}
await provider.close();

async function fetchUnpaged(service) {
  const https = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const url = new URL(`/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(`app=${service}`)}`, emu.url);
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: readFileSync(emu.caFile), headers: { authorization: `Bearer ${readFileSync(emu.tokenFile, 'utf8').trim()}` } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')).items.length));
      })
      .on('error', reject);
  });
}

// The lock strategy on Leases: every node has its own provider (its own client), all in this process.
emu.faults.latencyMs = LATENCY_MS;
for (const n of [10, 50]) {
  const service = `lock${n}`;
  for (let i = 0; i < n; i++) {
    emu.addPod({
      name: `${service}-${i}`,
      labels: { app: service },
      podIP: '127.0.0.1',
      containers: [{ name: 'app', ports: [{ name: 'management', containerPort: 20_000 + i }] }],
    });
  }
  const discovery = discoveryOf();
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  emu.resetRequests();
  const { outcomes, ms, formers, firstSeeds } = await formCluster(providers, { service, discovery, mode: 'lock' });
  const requests = emu.requests.length;
  await closeNodes(outcomes, providers);
  console.log(
    `kubernetes-emulator n=${String(n).padEnd(3)} lock (Leases)  formation ${String(ms).padStart(6)} ms   ` +
      `HTTP requests/node ${(requests / n).toFixed(1).padStart(5)}   ` +
      `clusters formed ${formers}, distinct first seeds ${firstSeeds}`,
  );
}
await emu.close();
console.log(`\n(latency ${LATENCY_MS} ms added to every request by the emulator; requests/node include the pod lists that tell live members)`);

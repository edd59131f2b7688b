// Formation time of the `lock` strategy on the Consul HTTP API emulator for 10 and 50 nodes (last
// start → all decided) and HTTP requests per node, compared in the same run with a ConstructR-style
// loop (read; no cluster → try the lock; refused → sleep a fixed 3 s and retry). Real TTLs (10 s) and
// the system clock; every node has its own provider (its own session), all in this process.
// Run: npm run bench -- consul   (narrow a run with BENCH_SIZES=10,50 BENCH_MODES=lock,constructr; defaults: all)
import { closeNodes, createDiscovery, formCluster, importTs } from './lib/lock-formation.mjs';

const [{ startConsulEmulator }] = await importTs('test/emulators/consul/server.ts');

/** A comma-separated filter from the environment, or every value. */
const only = (name, all) => process.env[name]?.split(',').map((v) => (typeof all[0] === 'number' ? Number(v) : v)) ?? all;
const SIZES = only('BENCH_SIZES', [10, 50]);
const MODES = only('BENCH_MODES', ['lock', 'constructr']);
/** Requests a node makes to stay alive (TTL check pass, session renew), not to decide. */
const KEEPALIVE = /^\/v1\/(agent\/check\/pass|session\/renew)\//;

async function formation(n, mode) {
  const emu = await startConsulEmulator();
  const discovery = { method: 'consul', host: '127.0.0.1', port: emu.port };
  const service = 'bench';
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  const { outcomes, ms, cpu, formers, firstSeeds } = await formCluster(providers, { service, discovery, mode });
  const requests = emu.requests.slice();
  await closeNodes(outcomes, providers);
  await emu.stop();
  const deciding = requests.filter((r) => !KEEPALIVE.test(r.path));
  const blocking = deciding.filter((r) => r.query.includes('index=')).length;
  return {
    ms,
    cpu,
    formers,
    firstSeeds,
    perNode: (deciding.length / n).toFixed(1),
    blockingPerNode: (blocking / n).toFixed(1),
    keepalivePerNode: ((requests.length - deciding.length) / n).toFixed(1),
  };
}

for (const n of SIZES) {
  for (const mode of MODES) {
    const r = await formation(n, mode);
    const label = mode === 'lock' ? 'lock (blocking query)' : 'ConstructR (3 s retry)';
    console.log(
      `consul-emulator n=${String(n).padEnd(3)} ${label.padEnd(23)} formation ${String(r.ms).padStart(6)} ms   ` +
        `HTTP requests/node ${String(r.perNode).padStart(5)} (of which blocking queries ${r.blockingPerNode}; keepalive ${r.keepalivePerNode})   ` +
        `CPU ${r.cpu.ms} ms (${r.cpu.percentOfWall} % of the wall time)   clusters formed ${r.formers}, distinct first seeds ${r.firstSeeds}`,
    );
  }
}
console.log('\n(requests = register + health + KV + session create; keepalive = TTL check pass + session renew during the run;');
console.log(' "formation" = last node started → all nodes decided; CPU = this process, clients and emulator, first start → last decision)');

// Formation time of the `lock` strategy on the Consul HTTP API emulator for 10 and 50 nodes (last
// start → all decided) and HTTP requests per node, compared in the same run with a ConstructR-style
// loop (read; no cluster → try the lock; refused → sleep a fixed 3 s and retry). Real TTLs (10 s) and
// the system clock; every node has its own provider (its own session), all in this process.
// Run: npm run bench -- consul
import { register } from 'tsx/esm/api';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const unregister = register();
const { startConsulEmulator } = await import(pathToFileURL(path.join(root, 'test/emulators/consul/server.ts')).href);
await unregister();
const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { runLockStrategy } = await dist('src/lock/lock-strategy.js');
const { createDiscovery } = await dist('src/registry.js');
const { Config } = await dist('src/config/schema.js');
const { systemClock } = await dist('src/clock.js');
const { silentLogger } = await dist('src/logger.js');

const CONSTRUCTR_RETRY_MS = 3000;
const SIZES = [10, 50];
/** Requests a node makes to stay alive (TTL check pass, session renew), not to decide. */
const KEEPALIVE = /^\/v1\/(agent\/check\/pass|session\/renew)\//;

async function constructrNode(provider, service, self) {
  const registration = await provider.register(self, { service });
  const lock = provider.seedLock();
  const opts = { service };
  for (;;) {
    const record = await lock.readRecord(opts);
    const seeds = record.firstSeed ? [record.firstSeed, ...record.members.filter((m) => m.port !== record.firstSeed.port)].slice(0, 5) : [];
    if (seeds.length > 0) {
      await lock.addMember(self, opts);
      return { result: { seeds, formedNewCluster: false }, close: () => registration.close() };
    }
    const held = await lock.tryLock(self, opts);
    if (held) {
      await lock.writeFirstSeed(self, opts);
      await lock.addMember(self, opts);
      await held.release();
      return { result: { seeds: [self], formedNewCluster: true }, close: () => registration.close() };
    }
    await new Promise((r) => setTimeout(r, CONSTRUCTR_RETRY_MS));
  }
}

async function formation(n, mode) {
  const emu = await startConsulEmulator();
  const discovery = { method: 'consul', host: '127.0.0.1', port: emu.port };
  const service = 'bench';
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  const decidedAt = [];
  const started = [];
  const outcomes = await Promise.all(providers.map((provider, i) => {
    const self = { host: '127.0.0.1', port: 20_000 + i };
    started[i] = performance.now();
    const run = mode === 'lock'
      ? runLockStrategy({
          config: Config.parse({ service, discovery, bootstrap: { strategy: 'lock' }, management: { port: 0 } }),
          provider, self, join: async () => {}, logger: silentLogger, clock: systemClock,
          signal: AbortSignal.timeout(120_000), startedAt: Date.now(),
        })
      : constructrNode(provider, service, self);
    return run.then((outcome) => { decidedAt[i] = performance.now(); return outcome; });
  }));
  const ms = Math.max(...decidedAt) - Math.max(...started);
  const requests = emu.requests.slice();
  const formers = outcomes.filter((o) => o.result.formedNewCluster).length;
  const firstSeeds = new Set(outcomes.map((o) => `${o.result.seeds[0].host}:${o.result.seeds[0].port}`)).size;
  await Promise.all(outcomes.map((o) => o.close()));
  await Promise.all(providers.map((p) => p.close()));
  await emu.stop();
  const deciding = requests.filter((r) => !KEEPALIVE.test(r.path));
  const blocking = deciding.filter((r) => r.query.includes('index=')).length;
  return {
    ms: Math.round(ms), formers, firstSeeds,
    perNode: (deciding.length / n).toFixed(1), blockingPerNode: (blocking / n).toFixed(1),
    keepalivePerNode: ((requests.length - deciding.length) / n).toFixed(1),
  };
}

for (const n of SIZES) {
  for (const mode of ['lock', 'constructr']) {
    const r = await formation(n, mode);
    const label = mode === 'lock' ? 'lock (blocking query)' : 'ConstructR (3 s retry)';
    console.log(`consul-emulator n=${String(n).padEnd(3)} ${label.padEnd(23)} formation ${String(r.ms).padStart(6)} ms   ` +
      `HTTP requests/node ${String(r.perNode).padStart(5)} (of which blocking queries ${r.blockingPerNode}; keepalive ${r.keepalivePerNode})   ` +
      `clusters formed ${r.formers}, distinct first seeds ${r.firstSeeds}`);
  }
}
console.log('\n(requests = register + health + KV + session create; keepalive = TTL check pass + session renew during the run;');
console.log(' "formation" = last node started → all nodes decided)');

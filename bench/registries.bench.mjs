// Formation time of the `lock` strategy on real etcd and ZooKeeper for 10 and 50 nodes (last start →
// all decided) and registry calls per node, compared in the same run with a ConstructR-style loop
// (read; no cluster → try the lock; lock lost → sleep a fixed 3 s and retry). Every node has its own
// provider (its own etcd lease / ZooKeeper session), all in this process.
// Run: npm run bench -- registries   (needs the Debian packages zookeeper and etcd-server; installs them as root)
import { register } from 'tsx/esm/api';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const unregister = register();
const { ensureServersInstalled } = await import(pathToFileURL(path.join(root, 'test/servers/install.ts')).href);
const { startEtcd, startZookeeper } = await import(pathToFileURL(path.join(root, 'test/servers/processes.ts')).href);
await unregister();
const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { runLockStrategy } = await dist('src/lock/lock-strategy.js');
const { createDiscovery } = await dist('src/registry.js');
const { Config } = await dist('src/config/schema.js');
const { systemClock } = await dist('src/clock.js');
const { silentLogger } = await dist('src/logger.js');

// Wire requests, counted at the client libraries (unary etcd RPCs; ZooKeeper requests). Keepalive
// pings and watch notifications are not requests and are not counted.
const wire = { count: 0 };
const countCalls = (proto, names) => {
  for (const name of names) {
    const original = proto[name];
    proto[name] = function (...args) { wire.count++; return original.apply(this, args); };
  }
};
const etcd3 = await import('etcd3');
countCalls(etcd3.KVClient.prototype, ['range', 'put', 'deleteRange', 'txn']);
countCalls(etcd3.LeaseClient.prototype, ['leaseGrant', 'leaseRevoke']);
const zookeeper = (await import('node-zookeeper-client')).default;
const zkProbe = zookeeper.createClient('127.0.0.1:1');
countCalls(Object.getPrototypeOf(zkProbe), ['getChildren', 'getData', 'exists', 'create', 'remove', 'setData']);
// (never connected: nothing to close — closing an unconnected client crashes the library)

const CONSTRUCTR_RETRY_MS = 3000;
const SIZES = [10, 50];

/** Wraps a provider so every registry operation is counted (waits on a watch are counted apart). */
function counting(provider, counts) {
  const lock = provider.seedLock();
  const countedLock = new Proxy(lock, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      return (...args) => {
        if (prop === 'waitForChange') counts.waits++;
        else counts.calls++;
        return v.apply(target, args);
      };
    },
  });
  return new Proxy(provider, {
    get(target, prop) {
      if (prop === 'seedLock') return () => countedLock;
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      if (prop === 'resolve' || prop === 'register') return (...args) => { counts.calls++; return v.apply(target, args); };
      return v.bind(target);
    },
  });
}

/** ConstructR's coordination loop, on the same SeedLock primitives, with its fixed retry delay. */
async function constructrNode(provider, service, self) {
  const registration = await provider.register(self, { service });
  const lock = provider.seedLock();
  const opts = { service };
  for (;;) {
    const record = await lock.readRecord(opts);
    const seeds = record.firstSeed ? [record.firstSeed, ...record.members.filter((m) => m.port !== record.firstSeed.port)].slice(0, 5) : record.members.slice(0, 5);
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

async function formation(kind, discovery, n, mode) {
  const service = `bench-${mode}-${kind}-${n}-${Date.now()}`;
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  const counts = providers.map(() => ({ calls: 0, waits: 0 }));
  const decidedAt = [];
  const started = [];
  wire.count = 0;
  const runs = providers.map((raw, i) => {
    const provider = counting(raw, counts[i]);
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
  });
  const outcomes = await Promise.all(runs);
  const requests = wire.count;
  const lastStart = Math.max(...started);
  const ms = Math.max(...decidedAt) - lastStart;
  const formers = outcomes.filter((o) => o.result.formedNewCluster).length;
  const firstSeeds = new Set(outcomes.map((o) => `${o.result.seeds[0].host}:${o.result.seeds[0].port}`)).size;
  await Promise.all(outcomes.map((o) => o.close()));
  await Promise.all(providers.map((p) => p.close()));
  const calls = counts.map((c) => c.calls);
  return {
    ms: Math.round(ms), formers, firstSeeds,
    callsPerNode: (calls.reduce((a, b) => a + b, 0) / n).toFixed(1), maxCalls: Math.max(...calls),
    waitsPerNode: (counts.reduce((a, c) => a + c.waits, 0) / n).toFixed(1),
    requestsPerNode: (requests / n).toFixed(1),
  };
}

const install = await ensureServersInstalled();
const [zk, etcd] = await Promise.all([startZookeeper(install.java, install.zookeeperJar), startEtcd(install.etcd)]);
console.log(`servers: install ${install.installed ? `${install.installMs} ms` : 'already present'}, zookeeper started in ${zk.startMs} ms, etcd started in ${etcd.startMs} ms`);
const backends = [
  ['etcd', { method: 'etcd', endpoints: [etcd.address] }],
  ['zookeeper', { method: 'zookeeper', connectionString: zk.address }],
];
const rows = [];
try {
  for (const [kind, discovery] of backends) {
    for (const n of SIZES) {
      for (const mode of ['lock', 'constructr']) {
        const r = await formation(kind, discovery, n, mode);
        rows.push({ backend: kind, nodes: n, strategy: mode === 'lock' ? 'lock (watch)' : 'ConstructR loop (3 s retry)', ...r });
        console.log(`${kind.padEnd(9)} n=${String(n).padEnd(3)} ${(mode === 'lock' ? 'lock (watch)' : 'ConstructR (3 s retry)').padEnd(22)} ` +
          `formation ${String(r.ms).padStart(6)} ms   calls/node ${String(r.callsPerNode).padStart(5)} (max ${r.maxCalls})   ` +
          `wire requests/node ${String(r.requestsPerNode).padStart(5)}   watch waits/node ${r.waitsPerNode}   clusters formed ${r.formers}, distinct first seeds ${r.firstSeeds}`);
      }
    }
  }
} finally {
  await Promise.all([zk.stop(), etcd.stop()]);
}
console.log('\n(calls = register + resolve + SeedLock operations; wire requests = etcd unary RPCs / ZooKeeper requests;\n "formation" = last node started → all nodes decided)');

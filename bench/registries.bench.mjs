// Formation time of the `lock` strategy on real etcd and ZooKeeper for 10 and 50 nodes (last start →
// all decided) and registry calls per node, compared in the same run with a ConstructR-style loop
// (read; no cluster → try the lock; lock lost → sleep a fixed 3 s and retry). Every node has its own
// provider (its own etcd lease / ZooKeeper session), all in this process.
// Run: npm run bench -- registries   (needs the Debian packages zookeeper and etcd-server; installs them as root)
// Narrow a run with BENCH_BACKENDS=etcd,zookeeper BENCH_SIZES=10,50 BENCH_MODES=lock,constructr (defaults: all).
import { counting } from './lib/counting.mjs';
import { closeNodes, createDiscovery, formCluster, importTs } from './lib/lock-formation.mjs';

const [{ ensureServersInstalled }, { startEtcd, startZookeeper }] = await importTs('test/servers/install.ts', 'test/servers/processes.ts');

// Wire requests, counted at the client libraries (unary etcd RPCs; ZooKeeper requests). Keepalive
// pings and watch notifications are not requests and are not counted.
const wire = { count: 0 };
const countCalls = (proto, names) => {
  for (const name of names) {
    const original = proto[name];
    proto[name] = function (...args) {
      wire.count++;
      return original.apply(this, args);
    };
  }
};
const etcd3 = await import('etcd3');
countCalls(etcd3.KVClient.prototype, ['range', 'put', 'deleteRange', 'txn']);
countCalls(etcd3.LeaseClient.prototype, ['leaseGrant', 'leaseRevoke']);
const zookeeper = (await import('node-zookeeper-client')).default;
const zkProbe = zookeeper.createClient('127.0.0.1:1');
countCalls(Object.getPrototypeOf(zkProbe), ['getChildren', 'getData', 'exists', 'create', 'remove', 'setData', 'transaction']);
// (never connected: nothing to close — closing an unconnected client crashes the library)

/** A comma-separated filter from the environment, or every value. */
const only = (name, all) => process.env[name]?.split(',').map((v) => (typeof all[0] === 'number' ? Number(v) : v)) ?? all;
const SIZES = only('BENCH_SIZES', [10, 50]);
const MODES = only('BENCH_MODES', ['lock', 'constructr']);

async function formation(kind, discovery, n, mode) {
  const service = `bench-${mode}-${kind}-${n}-${Date.now()}`;
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  const counts = providers.map(() => ({ calls: 0, waits: 0 }));
  wire.count = 0;
  const counted = providers.map((raw, i) => counting(raw, counts[i]));
  const { outcomes, ms, cpu, formers, firstSeeds } = await formCluster(counted, { service, discovery, mode });
  const requests = wire.count;
  await closeNodes(outcomes, providers);
  const calls = counts.map((c) => c.calls);
  return {
    ms,
    cpu,
    formers,
    firstSeeds,
    callsPerNode: (calls.reduce((a, b) => a + b, 0) / n).toFixed(1),
    maxCalls: Math.max(...calls),
    waitsPerNode: (counts.reduce((a, c) => a + c.waits, 0) / n).toFixed(1),
    requestsPerNode: (requests / n).toFixed(1),
  };
}

const install = await ensureServersInstalled();
const [zk, etcd] = await Promise.all([startZookeeper(install.java, install.zookeeperJar), startEtcd(install.etcd)]);
console.log(
  `servers: install ${install.installed ? `${install.installMs} ms` : 'already present'}, ` +
    `zookeeper started in ${zk.startMs} ms, etcd started in ${etcd.startMs} ms`,
);
const backends = [
  ['etcd', { method: 'etcd', endpoints: [etcd.address] }],
  ['zookeeper', { method: 'zookeeper', connectionString: zk.address }],
];
const rows = [];
try {
  for (const [kind, discovery] of backends.filter(([kind]) => only('BENCH_BACKENDS', ['etcd', 'zookeeper']).includes(kind))) {
    for (const n of SIZES) {
      for (const mode of MODES) {
        const r = await formation(kind, discovery, n, mode);
        rows.push({ backend: kind, nodes: n, strategy: mode === 'lock' ? 'lock (watch)' : 'ConstructR loop (3 s retry)', ...r });
        console.log(
          `${kind.padEnd(9)} n=${String(n).padEnd(3)} ${(mode === 'lock' ? 'lock (watch)' : 'ConstructR (3 s retry)').padEnd(22)} ` +
            `formation ${String(r.ms).padStart(6)} ms   calls/node ${String(r.callsPerNode).padStart(5)} (max ${r.maxCalls})   ` +
            `wire requests/node ${String(r.requestsPerNode).padStart(5)}   watch waits/node ${r.waitsPerNode}   ` +
            `client CPU ${r.cpu.ms} ms (${r.cpu.percentOfWall} % of the wall time)   clusters formed ${r.formers}, distinct first seeds ${r.firstSeeds}`,
        );
      }
    }
  }
} finally {
  await Promise.all([zk.stop(), etcd.stop()]);
}
console.log(
  '\n(calls = register + resolve + SeedLock operations; wire requests = etcd unary RPCs / ZooKeeper requests;' +
    '\n "formation" = last node started → all nodes decided; client CPU = this process (every client), first start → last decision)',
);

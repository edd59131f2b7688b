// Formation time (last start → all decided) and requests per node for N = 10, 50, 100, 200 nodes,
// under both strategies, compared with Pekko's default (flat 6 s) and a ConstructR-style loop
// (read; no cluster → try the lock; lost → sleep a fixed 3 s; measured on the same SeedLock).
//
// - lowest-address: real bootstrap() nodes (bench/lib/cluster.mjs: in-process, split over child
//   processes only to stay under the descriptor limit), file provider, fast path expectedContactPoints
//   = N; with the defaults (no fast path) too for N ≤ DEFAULTS_UP_TO. Requests per node: probe HTTP
//   requests sent and received, discovery lookups (each a directory listing).
// - lock: the lock strategy (register, record read, lock, fenced first-seed write, watch) of every
//   node on its own provider, on the file provider and, when /usr/bin/etcd exists (or ETCD=path), on a
//   real etcd. Requests per node: registry calls (register, resolve, SeedLock operations).
//
// Writes bench/results/scale.json and docs/performance.svg (the chart of docs/performance.md).
// Run: npm run bench -- scale   (SIZES=10,50 to try fewer; LA_TIMEOUT_MS bounds one lowest-address formation)
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { formLowestAddress } from './lib/cluster.mjs';
import { counting } from './lib/counting.mjs';
import { CONSTRUCTR_RETRY_MS, closeNodes, createDiscovery, formCluster, importTs, root } from './lib/lock-formation.mjs';
import { lineChart } from './lib/svg-chart.mjs';

const PEKKO_DEFAULT_MS = 5000 + 1000;
const SIZES = (process.env.SIZES ?? '10,50,100,200').split(',').map(Number);
const DEFAULTS_UP_TO = Number(process.env.DEFAULTS_UP_TO ?? 50);
const LA_TIMEOUT_MS = Number(process.env.LA_TIMEOUT_MS ?? 45_000);
const ETCD = process.env.ETCD ?? (existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : undefined);

const rows = [];
const r1 = (v) => Math.round(v * 10) / 10;
const print = (row) => {
  rows.push(row);
  const label = `${row.strategy}${row.backend ? ` / ${row.backend}` : ''}`.padEnd(36);
  if (row.failed) return console.log(`n=${String(row.n).padEnd(4)} ${label} FAILED: ${row.failed}`);
  const req =
    row.strategy.startsWith('lowest-address') && row.requests
      ? `probes sent/node ${r1(row.requests.sent.mean)} (max ${row.requests.sent.max}), received/node ${r1(row.requests.received.mean)} ` +
        `(max ${row.requests.received.max}), lookups/node ${r1(row.requests.lookups.mean)} (max ${row.requests.lookups.max})`
      : `registry calls/node ${row.callsPerNode} (max ${row.maxCalls}), watch waits/node ${row.waitsPerNode}`;
  console.log(`n=${String(row.n).padEnd(4)} ${label} formation ${String(Math.round(row.ms)).padStart(6)} ms   ${req}`);
};

/**
 * From SCALED_FROM nodes on, lowest-address runs with the probe pacing docs/performance.md recommends
 * for large clusters: every node answers N − 1 peers, and with the long poll a longer interval no
 * longer delays formation (changes are answered at once), it only lowers the steady load.
 */
const SCALED_FROM = Number(process.env.SCALED_FROM ?? 100);
const SCALED_PROBES = { probeIntervalMs: 30_000, probeTimeoutMs: 10_000, probeFailureWindowMs: 90_000, discoveryIntervalMs: 5000 };
const SCALED_LABEL = `probes every ${SCALED_PROBES.probeIntervalMs / 1000} s`;
/** The file provider's pacing with them: every entry is rewritten every ttl/3 and read again by every node. */
const SCALED_FILE = { ttlMs: 60_000 };
/** A scaled formation's bound: N = 200 took 54–84 s on 2 CPUs. */
const SCALED_TIMEOUT_MS = Number(process.env.SCALED_TIMEOUT_MS ?? 240_000);

async function lowestAddress(n, fastPath) {
  const scaled = n >= SCALED_FROM;
  const strategy = `lowest-address (${fastPath ? 'fast path' : 'defaults'}${scaled ? `, ${SCALED_LABEL}` : ''})`;
  try {
    const settings = {
      bootstrapTimeoutMs: scaled ? SCALED_TIMEOUT_MS : fastPath ? LA_TIMEOUT_MS : LA_TIMEOUT_MS + 5000,
      ...(fastPath ? { expectedContactPoints: n } : {}),
      ...(scaled ? SCALED_PROBES : {}),
    };
    const r = await formLowestAddress(n, settings, scaled ? { discovery: SCALED_FILE } : {});
    print({ strategy, n, ms: r.ms, shards: r.shards, requests: r.formation, unattributed: r.unattributed });
    return true;
  } catch (err) {
    const reason = String(err.message)
      .split('\n')[0]
      .replace(/^shard \d+: /, '');
    print({ strategy, n, failed: reason.length > 400 ? `${reason.slice(0, 400)}…` : reason });
    return false;
  }
}

async function lock(backend, discovery, n, mode) {
  const service = `bench-scale-${mode}-${backend}-${n}-${Date.now()}`;
  const providers = await Promise.all(Array.from({ length: n }, () => createDiscovery(discovery)));
  const counts = providers.map(() => ({ calls: 0, waits: 0 }));
  const { outcomes, ms, formers, firstSeeds } = await formCluster(
    providers.map((p, i) => counting(p, counts[i])),
    { service, discovery, mode },
  );
  await closeNodes(outcomes, providers);
  if (formers !== 1 || firstSeeds !== 1) throw new Error(`${backend} ${mode} n=${n}: ${formers} formed, ${firstSeeds} first seeds`);
  const calls = counts.map((c) => c.calls);
  print({
    strategy: mode === 'lock' ? 'lock' : `ConstructR loop (${CONSTRUCTR_RETRY_MS / 1000} s retry)`,
    backend,
    n,
    ms,
    callsPerNode: r1(calls.reduce((a, b) => a + b, 0) / n),
    maxCalls: Math.max(...calls),
    waitsPerNode: r1(counts.reduce((a, c) => a + c.waits, 0) / n),
  });
}

const started = performance.now();
console.log(
  `scale: N = ${SIZES.join(', ')}; ${os.availableParallelism()} CPU(s), load ${os.loadavg()[0].toFixed(1)}; ` +
    `Pekko default ${PEKKO_DEFAULT_MS} ms; "formation" = last node started → all nodes decided`,
);
const laWorks = { scaled: true, unscaled: true };
for (const n of SIZES) {
  // A size that failed makes every larger one with the same settings fail the same way (the probe load
  // grows as N²): not tried. The scaled sizes have their own settings, so they are tried anyway.
  const tier = n >= SCALED_FROM ? 'scaled' : 'unscaled';
  if (laWorks[tier]) laWorks[tier] = await lowestAddress(n, true);
  else print({ strategy: 'lowest-address (fast path)', n, failed: 'not tried: a smaller N with the same settings already failed' });
}
for (const n of SIZES.filter((x) => x <= DEFAULTS_UP_TO)) await lowestAddress(n, false);

const fileDir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-scale-lock-'));
try {
  for (const n of SIZES) {
    for (const mode of ['lock', 'constructr']) await lock('file', { method: 'file', directory: fileDir }, n, mode);
  }
} finally {
  await rm(fileDir, { recursive: true, force: true });
}
if (ETCD) {
  const [{ startEtcd }] = await importTs('test/servers/processes.ts');
  const etcd = await startEtcd(ETCD);
  try {
    for (const n of SIZES) await lock('etcd', { method: 'etcd', endpoints: [etcd.address] }, n, 'lock');
  } finally {
    await etcd.stop();
  }
} else console.log('(no etcd: /usr/bin/etcd is missing and ETCD is not set; "apt-get install etcd-server" adds it)');

const results = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: os.availableParallelism(), node: process.version },
  pekkoDefaultMs: PEKKO_DEFAULT_MS,
  rows,
};
await mkdir(path.join(root, 'bench/results'), { recursive: true });
await writeFile(path.join(root, 'bench/results/scale.json'), `${JSON.stringify(results, null, 2)}\n`);

const line = (strategy, backend) => rows.filter((r) => r.strategy === strategy && r.backend === backend && !r.failed).map((r) => [r.n, Math.round(r.ms)]);
const fastPathRow = (r) => r.strategy.startsWith('lowest-address (fast path');
const failedLa = rows.filter((r) => fastPathRow(r) && r.failed).map((r) => r.n);
const series = [
  {
    name: `lowest-address, fast path (file; ${SCALED_LABEL} from N = ${SCALED_FROM})`,
    color: '#0969da',
    points: rows.filter((r) => fastPathRow(r) && !r.failed).map((r) => [r.n, Math.round(r.ms)]),
  },
  { name: 'lock (file)', color: '#1a7f37', points: line('lock', 'file') },
  { name: 'lock (etcd)', color: '#8250df', points: line('lock', 'etcd') },
  { name: 'ConstructR 3 s retry (file)', color: '#bf3989', points: line(`ConstructR loop (${CONSTRUCTR_RETRY_MS / 1000} s retry)`, 'file') },
  { name: 'Pekko default (5 s + 1 s)', color: '#cf222e', dash: '6 4', points: [SIZES[0], SIZES.at(-1)].map((n) => [n, PEKKO_DEFAULT_MS]) },
].filter((s) => s.points.length > 0);
const svg = lineChart({
  title: 'Formation time vs cluster size (last node started → all decided)',
  xLabel: 'nodes (N, log scale)',
  yLabel: 'formation time',
  xTicks: SIZES,
  series,
  notes: [
    `Measured ${results.measuredAt.slice(0, 10)} on ${results.machine.cpus} CPUs, all nodes on one machine ` +
      `(node ${process.version}), with the long poll (issue 12).`,
    ...(failedLa.length > 0
      ? [`lowest-address did not form at N = ${failedLa.join(', ')} on this machine (all N² probes share its CPUs): see docs/performance.md.`]
      : []),
  ],
});
await writeFile(path.join(root, 'docs/performance.svg'), svg);
console.log(`\nwrote bench/results/scale.json and docs/performance.svg; ${Math.round((performance.now() - started) / 1000)} s in all`);

// Formation time of the lowest-address strategy: last node started → every node decided, for
// N = 3, 10, 50, with the default settings and with the fast path (expectedContactPoints = N),
// as a ratio to Pekko's default (stable-margin 5 s + 1 s decide tick = 6 s); then, without the fast
// path, what comes on top of the stable margin (last view change → all decided), and the probe
// requests per node after the decision (the conflict checks). Definitions: docs/performance.md.
//
// In-process nodes on real timers: each node is a full bootstrap() (its own HTTP endpoint on its own
// 127.0.x.y address, a keep-alive prober, a file-provider registration in a shared temp directory).
// One process keeps 50 nodes affordable on 2 cores; the per-node work is the same as in separate
// processes, minus process start-up (which is not part of the algorithm's formation time).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootstrap } from '../dist/src/index.js';
import { formLowestAddress, median } from './lib/cluster.mjs';

const PEKKO_DEFAULT_MS = 5000 + 1000;
const sizes = (process.env.SIZES ?? '3,10,50').split(',').map(Number);
const host = (i) => (process.platform === 'linux' ? `127.0.${1 + Math.floor(i / 200)}.${10 + (i % 200)}` : '127.0.0.1');

async function formation(n, fastPath) {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-bench-'));
  const nodes = [];
  try {
    const pending = [];
    for (let i = 0; i < n; i++) {
      const h = host(i);
      pending.push(
        bootstrap({
          service: 'bench',
          discovery: { method: 'file', directory },
          bootstrap: fastPath ? { expectedContactPoints: n, bootstrapTimeoutMs: 120_000 } : { bootstrapTimeoutMs: 120_000 },
          management: { host: h, port: 0 },
          self: { host: h },
          join: async () => {},
        }).then((node) => {
          nodes.push(node);
          return node;
        }),
      );
    }
    const lastStarted = performance.now();
    const results = await Promise.all(pending);
    const ms = performance.now() - lastStarted;
    const firstSeeds = new Set(results.map((r) => `${r.result.seeds[0].host}:${r.result.seeds[0].port}`));
    const formed = results.filter((r) => r.result.formedNewCluster).length;
    if (firstSeeds.size !== 1 || formed !== 1) throw new Error(`N=${n}: ${firstSeeds.size} first seeds, ${formed} formed`);
    return ms;
  } finally {
    await Promise.all(nodes.map((x) => x.close()));
    await rm(directory, { recursive: true, force: true });
  }
}

console.log('formation time, in-process nodes on real timers (HTTP probes on 127.0.x.y, file provider)');
console.log(
  `baseline: Pekko default stable-margin 5 s + 1 s decide tick = ${PEKKO_DEFAULT_MS} ms; ` +
    `${os.availableParallelism()} CPU(s), load ${os.loadavg()[0].toFixed(1)}`,
);
console.log(`${'N'.padEnd(5)} ${'settings'.padEnd(38)} ${'formation'.padStart(9)}   vs Pekko default`);
for (const fast of [false, true]) {
  for (const n of sizes) {
    const ms = await formation(n, fast);
    const label = fast ? `fast path (expectedContactPoints=${n})` : 'defaults (margin 5 s, probe 1 s)';
    console.log(`${String(n).padEnd(5)} ${label.padEnd(38)} ${`${Math.round(ms)} ms`.padStart(9)}   ${(ms / PEKKO_DEFAULT_MS).toFixed(2)}×`);
  }
}

// Without the fast path the stable margin is the floor: what matters is what comes on top of it.
// "last view change → all decided" = from the last time any node's discovered set changed (the
// coordinator's "discovered set changed", per node, the last one before that node's decision) to the
// last decision; printed as stableMarginMs + X. Nodes as above, split over child processes when the
// descriptor limit asks for it (bench/lib/cluster.mjs).
const MARGIN_N = Number(process.env.MARGIN_N ?? 10);
const MARGIN_RUNS = Number(process.env.MARGIN_RUNS ?? 3);
console.log(`\nlowest-address without the fast path, N = ${MARGIN_N}: last view change → all decided (${MARGIN_RUNS} runs)`);
for (const stableMarginMs of [5000, 1000]) {
  const over = [];
  const overFirst = [];
  for (let r = 0; r < MARGIN_RUNS; r++) {
    const x = await formLowestAddress(MARGIN_N, { stableMarginMs, bootstrapTimeoutMs: 120_000 });
    over.push(x.sinceLastViewChangeMs - stableMarginMs);
    overFirst.push(x.sinceFirstSeedViewChangeMs - stableMarginMs);
  }
  const signed = (v) => `${v < 0 ? '−' : '+'} ${Math.abs(Math.round(v))}`;
  console.log(
    `stableMarginMs ${String(stableMarginMs).padEnd(5)} → stableMarginMs ${signed(median(over))} ms (median; runs: ${over.map(signed).join(', ')}); ` +
      `from the first seed's last view change: stableMarginMs ${signed(median(overFirst))} ms`,
  );
}

// After the decision every node keeps checking that its cluster is the only one (DESIGN §5.5.3):
// probe requests per node over 2 × conflictCheckIntervalMs once all decided, counted per sender (each
// node's requests are attributed through its async context) and per receiver (at its endpoint).
const CHECK_MS = 5000;
console.log(`\nprobe requests per node after the decision, over 2 × conflictCheckIntervalMs (${CHECK_MS} ms, the default), fast path`);
for (const n of sizes.filter((x) => x >= 10)) {
  let x;
  try {
    x = await formLowestAddress(n, { expectedContactPoints: n, bootstrapTimeoutMs: 120_000 }, { afterMs: 2 * CHECK_MS });
  } catch (err) {
    // On one event loop N = 50 with the defaults asks for more probes than it can answer (docs/performance.md).
    console.log(`N=${String(n).padEnd(4)} did not form: ${String(err.message).split('\n')[0].slice(0, 300)}`);
    continue;
  }
  const intervals = x.afterWindowMs / CHECK_MS;
  const per = (s) => `mean ${(s.mean / intervals).toFixed(1)}, max ${(s.max / intervals).toFixed(1)}`;
  console.log(
    `N=${String(n).padEnd(4)} per conflictCheckIntervalMs: sent ${per(x.after.sent)} (goal ≤ 5)   received ${per(x.after.received)}   ` +
      `discovery lookups ${per(x.after.lookups)}`,
  );
}

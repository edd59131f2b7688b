// Formation time of the lowest-address strategy: last node started → every node decided, for
// N = 3, 10, 50, with the default settings and with the fast path (expectedContactPoints = N),
// as a ratio to Pekko's default (stable-margin 5 s + 1 s decide tick = 6 s).
//
// In-process nodes on real timers: each node is a full bootstrap() (its own HTTP endpoint on its own
// 127.0.x.y address, a keep-alive prober, a file-provider registration in a shared temp directory).
// One process keeps 50 nodes affordable on 2 cores; the per-node work is the same as in separate
// processes, minus process start-up (which is not part of the algorithm's formation time).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootstrap } from '../dist/src/index.js';

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

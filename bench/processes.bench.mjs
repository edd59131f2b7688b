// Formation of N = 10 real CLI processes (lowest-address, fast path expectedContactPoints = 10,
// default intervals, file provider in a temp directory), 5 runs, compared with Pekko's default
// (stable-margin 5 s + 1 s decide tick = 6 s).
//
// Each run spawns `node dist/src/cli/main.js bootstrap --format json --config <node-i.json>` ten
// times in a row, each process on its own 127.0.0.x management host (port 0), and reads each one's
// JSON decision from its stdout. The processes stay up as sidecars (no --exit: a node that exits
// right after deciding takes its endpoint and registration with it, and peers still probing it would
// form a second cluster); once all decided they get SIGTERM.
//
// "last start → all decided" = from the moment the last process was spawned to the moment the last
// decision line arrived on this side of the pipe (so it includes the processes' start-up: Node,
// loading the CLI, binding the endpoint, registering). elapsedMs is each process's own figure (from
// the start of its coordinator, after start-up, to its decision).
// Run: npm run bench -- processes   (RUNS=5, N=10 by default)
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { median } from './lib/cluster.mjs';
import { root } from './lib/paths.mjs';

const N = Number(process.env.N ?? 10);
const RUNS = Number(process.env.RUNS ?? 5);
const PEKKO_DEFAULT_MS = 5000 + 1000;
const CLI = path.join(root, 'dist/src/cli/main.js');
const host = (i) => (process.platform === 'linux' ? `127.0.0.${10 + i}` : '127.0.0.1');

async function run(r) {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-processes-'));
  const children = [];
  try {
    const configs = [];
    for (let i = 0; i < N; i++) {
      const file = path.join(directory, `node-${i}.json`);
      const config = {
        service: 'bench-processes',
        discovery: { method: 'file', directory: path.join(directory, 'registry') },
        bootstrap: { expectedContactPoints: N, bootstrapTimeoutMs: 120_000 },
        management: { host: host(i), port: 0 },
        self: { host: host(i) },
      };
      await writeFile(file, JSON.stringify(config));
      configs.push(file);
    }
    const decisions = configs.map((file, i) => {
      const child = spawn(process.execPath, [CLI, 'bootstrap', '--format', 'json', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      return new Promise((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line && out.includes('\n')) resolve({ at: performance.now(), result: JSON.parse(line) });
        });
        child.on('exit', (code) => reject(new Error(`node ${i} exited ${code} before deciding: ${err.trim()}`)));
      });
    });
    const lastStart = performance.now();
    const results = await Promise.all(decisions);
    const ms = Math.max(...results.map((x) => x.at)) - lastStart;
    const firstSeeds = new Set(results.map((x) => `${x.result.seeds[0].host}:${x.result.seeds[0].port}`));
    const formed = results.filter((x) => x.result.formedNewCluster).length;
    if (firstSeeds.size !== 1 || formed !== 1) throw new Error(`run ${r}: ${firstSeeds.size} first seeds, ${formed} formed a cluster`);
    // Each coordinator started elapsedMs before its decision arrived: the last of those starts, so the
    // same measure without process start-up (to within the pipe's latency).
    const lastCoordinatorStart = Math.max(...results.map((x) => x.at - x.result.elapsedMs));
    return { ms, withoutStartUp: Math.max(...results.map((x) => x.at)) - lastCoordinatorStart, elapsed: results.map((x) => x.result.elapsedMs) };
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null) return resolve();
            c.once('exit', resolve);
            c.kill('SIGTERM');
          }),
      ),
    );
    await rm(directory, { recursive: true, force: true });
  }
}

console.log(
  `lowest-address, fast path (expectedContactPoints=${N}), default intervals, ${N} CLI processes, file provider; ` +
    `${os.availableParallelism()} CPU(s), load ${os.loadavg()[0].toFixed(1)}`,
);
const times = [];
const noStartUp = [];
for (let r = 1; r <= RUNS; r++) {
  const { ms, withoutStartUp, elapsed } = await run(r);
  times.push(ms);
  noStartUp.push(withoutStartUp);
  console.log(
    `run ${r}: last start → all decided ${String(Math.round(ms)).padStart(5)} ms ` +
      `(last coordinator start → all decided ${String(Math.round(withoutStartUp)).padStart(5)} ms)   ` +
      `elapsedMs per process (coordinator start → decision): ${elapsed.join(' ')}   (one first seed, one formed)`,
  );
}
const m = median(times);
console.log(`median of ${RUNS} without process start-up (last coordinator start → all decided): ${Math.round(median(noStartUp))} ms`);
console.log(
  `median of ${RUNS}: ${Math.round(m)} ms = ${(m / PEKKO_DEFAULT_MS).toFixed(2)}× Pekko's default ${PEKKO_DEFAULT_MS} ms (stable margin 5 s + 1 s tick)`,
);

// Time from heal to one cluster (DESIGN §5.5), lowest-address strategy, real CLI processes
// (`clusterseed bootstrap --format json`) on 127.0.x.y with the file provider. Default bootstrap
// settings except a 1.5 s stable margin (formation only, not part of what is measured) and the file
// provider's ttlMs 3000, so a pause past the ttl stays short. conflictCheckIntervalMs is the default.
// A node that exits 3 (it yielded) is restarted at once with the same config, as an orchestrator
// would; "one cluster" means every host has a live, decided node and all their endpoints
// (GET /bootstrap/seed-nodes) name the same first seed.
//
// (i) pause: founder A forms alone (requiredContactPoints 1), is frozen with SIGSTOP until its entry
//     is stale, B and C then form a second cluster (2 members). t0 = SIGCONT.
// (ii) partition of discovery, modelled without namespaces: side X (2 nodes) and side Y (3 nodes)
//     read disjoint registry directories (`<dir>/svc/nodes` is a symlink to the side's own folder),
//     expectedContactPoints 5 with an explicit requiredContactPoints 2 (so the minority forms too, as
//     in reproduction 4 of issue 9). Probes between sides are never blocked: only discovery is split.
//     t0 = both symlinks atomically re-pointed at one merged folder holding every entry.
// Printed per scenario: t0 → first {"conflict":…} line, → last exit 3, → one cluster (restarts
// included), and the outcome (did the larger cluster survive, how many of its nodes yielded too).
// Figures only: no time is asserted. A run that does not reach one cluster within HEAL_LIMIT_MS is
// reported as a failure (exit 1): that is a split brain, not a slow figure.
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const RUNS = Number(process.env.RUNS ?? 3);
const TTL_MS = 3000;
const HEAL_LIMIT_MS = 30_000;
const base = { stableMarginMs: 1500, bootstrapTimeoutMs: 60_000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

/** One CLI node: its first stdout line is the result, a later `{"conflict":…}` line means it yielded. */
async function startNode(configDir, dir, host, bootstrap) {
  const config = {
    service: 'svc',
    discovery: { method: 'file', directory: dir, ttlMs: TTL_MS },
    bootstrap: { ...base, ...bootstrap },
    management: { host, port: 0 },
    self: { host },
  };
  const file = path.join(configDir, `${host}.config.json`);
  await writeFile(file, JSON.stringify(config));
  const child = spawn(process.execPath, [CLI, 'bootstrap', '--format', 'json', '--verbose', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  const node = { host, child, result: undefined, conflictAt: undefined, exit: undefined, stderr: '' };
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
    const lines = out.split('\n');
    out = lines.pop();
    for (const line of lines) {
      const msg = JSON.parse(line);
      if (msg.conflict) node.conflictAt = now();
      else node.result ??= msg;
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d) => (node.stderr = (node.stderr + d).slice(-8000)));
  child.on('exit', (code, signal) => (node.exit = { code, signal, at: now() }));
  return node;
}

async function waitFor(what, predicate, ms, nodes) {
  const end = now() + ms;
  while (!(await predicate())) {
    if (now() > end) {
      const tails = nodes.map(
        (n) => `--- ${n.host} exit=${JSON.stringify(n.exit)} result=${JSON.stringify(n.result)}\n${n.stderr.split('\n').slice(-8).join('\n')}`,
      );
      throw new Error(`${what}: not within ${ms} ms\n${tails.join('\n')}`);
    }
    await sleep(20);
  }
}

/** The first seed each live node's endpoint reports right now ('?' when it does not answer). */
async function reportedFirstSeeds(nodes) {
  return Promise.all(
    nodes
      .filter((n) => !n.exit && n.result)
      .map(async (n) => {
        try {
          const r = await fetch(`http://${n.result.self.host}:${n.result.self.port}/bootstrap/seed-nodes`, { signal: AbortSignal.timeout(1000) });
          const s = (await r.json()).seedNodes?.[0];
          return s ? `${s.host}:${s.port}` : '-';
        } catch {
          return '?';
        }
      }),
  );
}
const oneFirstSeed = async (nodes) => {
  const s = await reportedFirstSeeds(nodes);
  return s.length > 0 && s.every((x) => x === s[0] && x !== '-' && x !== '?');
};

async function stopAll(nodes) {
  await Promise.all(
    nodes.map((n) => {
      if (n.exit) return undefined;
      const exited = new Promise((r) => n.child.once('exit', r));
      n.child.kill('SIGCONT');
      n.child.kill('SIGTERM');
      return Promise.race([exited, sleep(5000).then(() => n.child.kill('SIGKILL'))]);
    }),
  );
}

async function entryAge(dir, host) {
  const names = await readdir(path.join(dir, 'svc', 'nodes')).catch(() => []);
  const name = names.find((f) => f.startsWith(encodeURIComponent(host)));
  if (!name) return Infinity;
  const entry = JSON.parse(await readFile(path.join(dir, 'svc', 'nodes', name), 'utf8').catch(() => '{"updatedAt":0}'));
  return Date.now() - entry.updatedAt;
}

/**
 * An orchestrator's view of a few CLI nodes: one live process per host, and a node that exits 3
 * (it yielded) is restarted at once with the same config, as Kubernetes or systemd would.
 */
class Orchestra {
  constructor(configDir) {
    this.configDir = configDir;
    this.current = new Map(); // host → node
    this.all = [];
    this.yields = []; // { host, at }
  }

  async start(host, dir, settings) {
    const node = await startNode(this.configDir, dir, host, settings);
    this.current.set(host, node);
    this.all.push(node);
    node.child.once('exit', (code) => {
      if (code !== 3 || this.stopping) return;
      this.yields.push({ host, at: now() });
      void this.start(host, dir, settings);
    });
    return node;
  }

  /** Every host has a live, decided node and all of them report the same first seed. */
  async oneCluster() {
    const live = [...this.current.values()];
    if (live.some((n) => n.exit || !n.result)) return false;
    return oneFirstSeed(live);
  }

  firstSeed() {
    return [...this.current.values()][0]?.result?.seeds[0].host;
  }

  async stop() {
    this.stopping = true;
    await stopAll(this.all);
  }
}

/** After t0: first conflict line, last yield, and one cluster of every host again (restarts included). */
async function healFigures(o, t0, what) {
  await waitFor(what, () => o.oneCluster(), HEAL_LIMIT_MS, o.all);
  const one = now() - t0;
  const conflicts = o.all.map((n) => n.conflictAt).filter((t) => t !== undefined && t >= t0);
  return {
    firstConflict: conflicts.length ? Math.min(...conflicts) - t0 : undefined,
    lastYield: o.yields.length ? Math.max(...o.yields.map((y) => y.at)) - t0 : undefined,
    one,
    yielded: o.yields.map((y) => y.host),
    survivor: o.firstSeed(),
  };
}

async function pauseRun(run) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-bench-pause-'));
  const h = (i) => `127.0.${60 + run}.${i}`;
  const o = new Orchestra(dir);
  try {
    const settings = { expectedContactPoints: 3, requiredContactPoints: 1 };
    const a = await o.start(h(1), dir, settings);
    await waitFor('founder decided', () => a.result, 20_000, o.all);
    if (!a.result.formedNewCluster) throw new Error(`founder did not form: ${JSON.stringify(a.result)}`);
    a.child.kill('SIGSTOP');
    await waitFor('founder entry stale', async () => (await entryAge(dir, h(1))) > TTL_MS + 200, 20_000, o.all);
    const others = await Promise.all([o.start(h(2), dir, settings), o.start(h(3), dir, settings)]);
    await waitFor('second cluster formed', () => others.every((n) => n.result), 30_000, o.all);
    if (others.some((n) => n.result.seeds[0].host !== h(2))) throw new Error('B and C did not form one second cluster');
    const t0 = now();
    a.child.kill('SIGCONT');
    return { ...(await healFigures(o, t0, 'one cluster after the resume')), expected: h(2), larger: [h(2), h(3)] };
  } finally {
    await o.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Points `link` at `target` atomically (a new symlink renamed over the old one). */
async function repoint(link, target) {
  const tmp = `${link}.${process.pid}.tmp`;
  await symlink(target, tmp);
  await rename(tmp, link);
}

async function partitionRun(run) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-bench-partition-'));
  const h = (i) => `127.0.${70 + run}.${i}`;
  const o = new Orchestra(root);
  try {
    const sides = { X: [h(1), h(2)], Y: [h(3), h(4), h(5)] };
    const discoveryDir = {};
    for (const side of Object.keys(sides)) {
      const real = path.join(root, `entries-${side}`);
      await mkdir(real);
      discoveryDir[side] = path.join(root, `side-${side}`);
      await mkdir(path.join(discoveryDir[side], 'svc'), { recursive: true });
      await symlink(real, path.join(discoveryDir[side], 'svc', 'nodes'));
    }
    const settings = { expectedContactPoints: 5, requiredContactPoints: 2 };
    await Promise.all(Object.entries(sides).flatMap(([side, hosts]) => hosts.map((host) => o.start(host, discoveryDir[side], settings))));
    await waitFor('both sides formed', () => o.all.every((n) => n.result), 30_000, o.all);
    const firstSeeds = new Set(o.all.map((n) => n.result.seeds[0].host));
    if (firstSeeds.size !== 2) throw new Error(`expected two clusters before the heal, got first seeds ${[...firstSeeds]}`);

    const merged = path.join(root, 'entries-merged');
    await mkdir(merged);
    for (const side of Object.keys(sides)) await cp(path.join(root, `entries-${side}`), merged, { recursive: true });
    const t0 = now();
    await Promise.all(Object.values(discoveryDir).map((d) => repoint(path.join(d, 'svc', 'nodes'), merged)));
    return { ...(await healFigures(o, t0, 'one cluster of 5 after the heal')), expected: h(3), larger: sides.Y };
  } finally {
    await o.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const figure = (label, xs) =>
  console.log(
    xs.length === 0
      ? `  ${label.padEnd(58)} (none in any run)`
      : `  ${label.padEnd(58)} median ${String(Math.round(median(xs))).padStart(5)} ms   ` +
          `spread ${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms`,
  );

async function measure(name, fn) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    try {
      runs.push(await fn(i));
    } catch (err) {
      console.log(`  ${name} run ${i + 1}: FAILED — ${err.message}`);
      process.exitCode = 1;
      return [];
    }
  }
  return runs;
}

/** Figures plus the outcome: which side survived and how many nodes of the larger side yielded too. */
function report(runs, labels) {
  const defined = (xs) => xs.filter((x) => x !== undefined);
  figure(labels.firstConflict, defined(runs.map((r) => r.firstConflict)));
  figure(labels.lastYield, defined(runs.map((r) => r.lastYield)));
  figure(
    labels.one,
    runs.map((r) => r.one),
  );
  const expectedSurvived = runs.filter((r) => r.survivor === r.expected).length;
  const extra = runs.map((r) => r.yielded.filter((host) => r.larger.includes(host)).length);
  console.log(
    `  survivor: the larger cluster (${runs[0].expected}) in ${expectedSurvived}/${runs.length} runs; ` +
      `nodes of the larger cluster that yielded too, per run: [${extra.join(', ')}]`,
  );
}

console.log(`time from heal to one cluster, lowest-address, CLI processes on 127.0.x.y, file provider ttlMs ${TTL_MS}, ${RUNS} runs each;`);
console.log('a node that exits 3 (yielded) is restarted at once with the same config, as an orchestrator would');
console.log(
  `defaults: discoveryIntervalMs 1000, probeIntervalMs 1000, conflictCheckIntervalMs 5000; ` +
    `${os.availableParallelism()} CPU(s), load ${os.loadavg()[0].toFixed(1)}`,
);
console.log('(i) pause: founder (alone) frozen past its ttl, 2 others form, founder resumed (SIGCONT = t0)');
const pauses = await measure('pause', pauseRun);
if (pauses.length) {
  report(pauses, {
    firstConflict: 'SIGCONT → first {"conflict":…} line',
    lastYield: 'SIGCONT → last exit 3',
    one: 'SIGCONT → 3 nodes live on one first seed (restarts incl.)',
  });
}
console.log('(ii) discovery partition 2 | 3 (disjoint directories, probes open), heal = directories merged (t0)');
const partitions = await measure('partition', partitionRun);
if (partitions.length) {
  report(partitions, {
    firstConflict: 'heal → first {"conflict":…} line',
    lastYield: 'heal → last exit 3',
    one: 'heal → 5 nodes live on one first seed (restarts incl.)',
  });
}

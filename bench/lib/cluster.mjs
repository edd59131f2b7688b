// Forms one lowest-address cluster of N in-process nodes (bench/lib/nodes.mjs), split over as few
// child processes (bench/lib/shard.mjs) as the descriptor limit allows, and measures it:
//
// - formation = last bootstrap() started → last node decided (all shards on one time line);
// - last view change → all decided: the last time any node's discovered set changed before its
//   decision (the coordinator's "discovered set changed"), to the last decision;
// - requests per node during formation (from the first start to the moment all decided) and in a
//   window after it (the conflict checks): probe requests sent, received, discovery lookups.
//
// Throws when the nodes do not agree on one first seed or more than one formed a cluster.
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SHARD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'shard.mjs');
/** Descriptors one shard may spend on probe connections (two per connection in one process), under a 20,000 `ulimit -n`. */
const FD_BUDGET = 12_000;

/** How many processes N nodes need: each node keeps a connection to every other, both ends in the bench. */
export const shardsFor = (n) => Math.max(1, Math.ceil((2 * n * (n - 1)) / FD_BUDGET));

const sleep = (ms, { unref = false } = {}) =>
  new Promise((r) => {
    const t = setTimeout(r, ms);
    if (unref) t.unref();
  });

function startShard() {
  const child = fork(SHARD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters = [];
  const decided = [];
  let failure;
  child.on('message', (m) => {
    if (m.type === 'decided') decided.push(m.node);
    if (m.type === 'error') failure = new Error(`shard ${child.pid}: ${m.message}`);
    for (const w of waiters.splice(0)) w();
  });
  child.on('exit', (code) => {
    if (code && !failure) failure = new Error(`shard ${child.pid} exited ${code}`);
    for (const w of waiters.splice(0)) w();
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      const handler = (m) => {
        if (m.type !== type) return;
        child.off('message', handler);
        resolve(m);
      };
      child.on('message', handler);
      child.once('exit', () => reject(failure ?? new Error(`shard ${child.pid} exited`)));
    });
  const changed = () => new Promise((r) => waiters.push(r));
  return { child, decided, next, changed, failed: () => failure };
}

/**
 * Forms a cluster of `n` nodes with `settings` (bootstrap config; `discovery`: file provider options
 * besides its directory) and measures it; after the
 * decision, counts requests over `afterMs` (0: no window). Resolves to the figures.
 */
export async function formLowestAddress(n, settings, { afterMs = 0, shards = shardsFor(n), service = 'bench', discovery = {} } = {}) {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-bench-'));
  const parts = Array.from({ length: shards }, startShard);
  try {
    await Promise.all(parts.map((p) => p.next('ready')));
    const started = parts.map((p) => p.next('started'));
    parts.forEach((p, s) => {
      const indices = [];
      for (let i = s; i < n; i += shards) indices.push(i);
      p.child.send({ type: 'start', indices, service, directory, discovery, bootstrap: settings });
    });
    const starts = await Promise.all(started);
    for (;;) {
      const failure = parts.map((p) => p.failed()).find(Boolean);
      if (failure) throw failure;
      if (parts.reduce((a, p) => a + p.decided.length, 0) === n) break;
      await Promise.race(parts.map((p) => p.changed()));
    }
    const atDecision = await snapshotAll(parts);
    let after;
    if (afterMs > 0) {
      await sleep(afterMs);
      after = await snapshotAll(parts);
    }
    const nodes = parts.flatMap((p) => p.decided).sort((a, b) => a.i - b.i);
    const firstSeeds = new Set(nodes.map((x) => `${x.result.seeds[0].host}:${x.result.seeds[0].port}`));
    const formed = nodes.filter((x) => x.result.formedNewCluster).length;
    if (firstSeeds.size !== 1 || formed !== 1) throw new Error(`N=${n}: ${firstSeeds.size} first seeds, ${formed} formed a cluster`);
    const lastStartedAt = Math.max(...starts.map((s) => s.lastAt));
    const allDecidedAt = Math.max(...nodes.map((x) => x.decidedAt));
    // The last change of each node's view before its own decision, then the latest of those.
    const lastViewChangeAt = Math.max(...nodes.map((x) => Math.max(...x.viewChanges.filter((v) => v.at <= x.decidedAt).map((v) => v.at))));
    // The same from the first seed's last view change: with a small margin the first seed may decide
    // before the last nodes registered, and those join without a margin of their own.
    const former = nodes.find((x) => x.result.formedNewCluster);
    const formerViewChangeAt = Math.max(...former.viewChanges.filter((v) => v.at <= former.decidedAt).map((v) => v.at));
    return {
      n,
      shards,
      sinceFirstSeedViewChangeMs: allDecidedAt - formerViewChangeAt,
      ms: allDecidedAt - lastStartedAt,
      sinceLastViewChangeMs: allDecidedAt - lastViewChangeAt,
      elapsedMs: nodes.map((x) => x.result.elapsedMs),
      formation: perNode(atDecision.counts, n),
      after: after ? perNode(subtract(after.counts, atDecision.counts), n) : undefined,
      afterWindowMs: after ? after.at - atDecision.at : undefined,
      unattributed: after?.unattributed ?? atDecision.unattributed,
    };
  } finally {
    await Promise.all(
      parts.map(async (p) => {
        if (p.child.exitCode !== null || !p.child.connected) return;
        p.child.send({ type: 'close' });
        await Promise.race([p.next('closed').catch(() => {}), sleep(30_000, { unref: true })]);
        p.child.kill();
      }),
    );
    await rm(directory, { recursive: true, force: true });
  }
}

async function snapshotAll(parts) {
  const snaps = await Promise.all(
    parts.map((p) => {
      const r = p.next('snapshot');
      p.child.send({ type: 'snapshot' });
      return r;
    }),
  );
  const counts = {};
  for (const s of snaps) Object.assign(counts, s.snapshot.nodes);
  return { at: Math.min(...snaps.map((s) => s.at)), counts, unattributed: snaps.reduce((a, s) => a + s.snapshot.unattributed, 0) };
}

function subtract(after, before) {
  return Object.fromEntries(
    Object.entries(after).map(([i, c]) => [
      i,
      { sent: c.sent - before[i].sent, received: c.received - before[i].received, lookups: c.lookups - before[i].lookups },
    ]),
  );
}

/** {sent, received, lookups} → {mean, max} each over the nodes. */
function perNode(counts, n) {
  const all = Object.values(counts);
  const stat = (k) => ({ mean: all.reduce((a, c) => a + c[k], 0) / n, max: Math.max(...all.map((c) => c[k])) });
  return { sent: stat('sent'), received: stat('received'), lookups: stat('lookups') };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

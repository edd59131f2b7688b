import { describe, expect, it } from 'vitest';
import type { ClusterConflict } from '../../src/bootstrap/conflict.js';
import { ConflictWatch } from '../../src/bootstrap/conflict-watch.js';
import { Coordinator } from '../../src/bootstrap/coordinator.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { BootstrapSettings } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import type { ContactPoint } from '../../src/types.js';
import { SimClock, type NodeClock } from '../sim/sim-clock.js';

// DESIGN §5.5.3–5: after the decision each node re-resolves every conflictCheckIntervalMs and probes
// at most 5 peers (the lowest always); a peer in another cluster is a conflict: the node then asks
// every discovered peer (a census) and the side that loses by compareClusters on the tallies (more
// members, ties to the lower first seed) yields through onConflict. All on virtual time: every bound
// below is in virtual milliseconds.

const cp = (host: string): ContactPoint => ({ host, port: 7626 });
const A = cp('10.0.0.1'),
  B = cp('10.0.0.2'),
  C = cp('10.0.0.3'),
  D = cp('10.0.0.4');
const X = cp('10.0.0.50');
const INTERVAL = 5000;

const undecided = (self: ContactPoint, lowest = A): SeedNodesResponse => ({ self, seedNodes: [], lowest, view: 2, members: 0 });
const inCluster = (self: ContactPoint, seeds: ContactPoint[], members: number): SeedNodesResponse => ({ self, seedNodes: seeds, lowest: A, view: 2, members });

/** A node A that forms a cluster with B in view, then meets whatever the test makes its peers answer. */
function formedNode(
  over: { self?: ContactPoint; view?: ContactPoint[]; clock?: SimClock; nodeClock?: NodeClock; legacy?: boolean; stableMarginMs?: number } = {},
) {
  const clock = over.clock ?? new SimClock(1);
  const nodeClock = over.nodeClock ?? clock;
  const answers = new Map<string, () => SeedNodesResponse>();
  const probed: string[] = [];
  const conflicts: ClusterConflict[] = [];
  let view = over.view ?? [A, B];
  const coordinator = new Coordinator({
    self: over.self ?? A,
    settings: BootstrapSettings.parse({ stableMarginMs: over.stableMarginMs ?? 1000, probeTimeoutMs: 500, conflictCheckIntervalMs: INTERVAL }),
    discover: async () => view,
    transport: {
      // The peer answers at once; the answer reaches this node 50 ms later, through this node's clock.
      probe: (p) => {
        probed.push(p.host);
        const answer = (answers.get(p.host) ?? (() => undecided(p)))();
        return new Promise((resolve) => nodeClock.setTimeout(() => resolve(answer), 50));
      },
      close: async () => {},
    },
    join: async () => {},
    clock: nodeClock,
    random: () => 0,
    logger: silentLogger,
    onConflict: (c) => conflicts.push(c),
    ...(over.legacy ? { unsafeLegacyRules: true } : {}),
  });
  let decided = false;
  void coordinator.run().then(() => (decided = true));
  return {
    clock,
    coordinator,
    answers,
    probed,
    conflicts,
    setView: (v: ContactPoint[]) => (view = v),
    decide: async () => {
      await clock.run(() => decided, clock.now() + 5000);
      expect(decided).toBe(true);
      probed.length = 0;
    },
  };
}

describe('conflict checks after the decision (lowest-address)', () => {
  it('yields to a larger cluster within one round, once, then stops checking and reports no seeds', async () => {
    const n = formedNode({ view: [A, B, C] });
    await n.decide();
    expect((await n.coordinator.report()).members).toBe(1);
    n.answers.set(B.host, () => inCluster(B, [X, B], 3));
    n.answers.set(C.host, () => inCluster(C, [X, C], 3));
    await n.clock.advance(INTERVAL + 600);
    expect(n.conflicts).toEqual([
      { strategy: 'lowest-address', ours: { firstSeed: A, members: 1 }, theirs: { firstSeed: X, seeds: [X, B], members: 2 }, yielding: true },
    ]);
    expect(n.coordinator.yielded).toBe(true);
    expect(n.clock.pending).toBe(0); // no more rounds: the node is leaving
    const probes = n.probed.length;
    await n.clock.advance(3 * INTERVAL);
    expect(n.probed.length).toBe(probes);
    expect(await n.coordinator.report()).toMatchObject({ seedNodes: [], members: 0 });
  });

  it('the winning side is told once per conflicting first seed and keeps checking', async () => {
    const n = formedNode({ view: [A, B, C, D] });
    await n.decide();
    n.answers.set(B.host, () => inCluster(B, [A, B], 2)); // B is with us: we count 2
    n.answers.set(C.host, () => inCluster(C, [X], 1));
    await n.clock.advance(3 * (INTERVAL + 600));
    expect((await n.coordinator.report()).members).toBe(2);
    expect(n.conflicts).toEqual([
      { strategy: 'lowest-address', ours: { firstSeed: A, members: 2 }, theirs: { firstSeed: X, seeds: [X], members: 1 }, yielding: false },
    ]);
    n.answers.set(D.host, () => inCluster(D, [D], 1));
    await n.clock.advance(INTERVAL + 600);
    expect(n.conflicts.map((c) => [c.theirs.firstSeed.host, c.yielding])).toEqual([
      [X.host, false],
      [D.host, false],
    ]);
    expect(n.coordinator.yielded).toBe(false);
    n.coordinator.stop();
    expect(n.clock.pending).toBe(0);
  });

  it('a tie in members goes to the lower first seed, on both sides', async () => {
    // A (10.0.0.1, 1 member) meets X (10.0.0.50, 1 member): A survives.
    const low = formedNode();
    await low.decide();
    low.answers.set(B.host, () => inCluster(B, [X], 1));
    await low.clock.advance(INTERVAL + 600);
    expect(low.conflicts.map((c) => c.yielding)).toEqual([false]);
    // X's side of the same conflict: X formed alone and hears A's report (1 member): X yields.
    const high = formedNode({ self: X, view: [X, cp('10.0.0.60')] });
    high.answers.set('10.0.0.60', () => undecided(cp('10.0.0.60'), X));
    await high.decide();
    high.answers.set('10.0.0.60', () => inCluster(cp('10.0.0.60'), [A], 1));
    await high.clock.advance(INTERVAL + 600);
    expect(high.conflicts.map((c) => c.yielding)).toEqual([true]);
  });

  it('counts members from a census of every peer, not from the sample nor from what peers report', async () => {
    // The case the fault suite found: a split heals right after both sides formed, before any check
    // ran, so every node still reports members 1 or 2. Cluster X (x1 < every y, 3 nodes) meets cluster
    // Y (4 nodes). A round samples 5 of the 6 peers; the census asks the sixth too, and both sides
    // count Y 4, X 3: Y survives and X yields, whatever each node reported.
    const xs = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map(cp),
      ys = ['10.0.0.11', '10.0.0.12', '10.0.0.13', '10.0.0.14'].map(cp);
    const everyone = [...xs, ...ys];
    const answerAs = (n: ReturnType<typeof formedNode>) => {
      for (const x of xs) n.answers.set(x.host, () => inCluster(x, x === xs[0] ? [x] : [xs[0]!, x], 2));
      for (const y of ys) n.answers.set(y.host, () => inCluster(y, y === ys[0] ? [y] : [ys[0]!, y], 1));
    };
    const y1 = formedNode({ self: ys[0]!, view: ys });
    for (const y of ys.slice(1)) y1.answers.set(y.host, () => undecided(y, ys[0]!));
    await y1.decide();
    y1.setView(everyone);
    answerAs(y1);
    await y1.clock.advance(INTERVAL + 600);
    expect(y1.conflicts).toEqual([
      { strategy: 'lowest-address', ours: { firstSeed: ys[0], members: 4 }, theirs: { firstSeed: xs[0], seeds: [xs[0]], members: 3 }, yielding: false },
    ]);
    expect(new Set(y1.probed)).toEqual(new Set(everyone.filter((p) => p !== ys[0]).map((p) => p.host)));
    expect((await y1.coordinator.report()).members).toBe(4);
    y1.coordinator.stop();

    const x2 = formedNode({ self: xs[1]!, view: xs });
    x2.answers.set(xs[0]!.host, () => inCluster(xs[0]!, [xs[0]!], 1));
    x2.answers.set(xs[2]!.host, () => undecided(xs[2]!));
    await x2.decide();
    x2.setView(everyone);
    answerAs(x2);
    await x2.clock.advance(INTERVAL + 600);
    expect(x2.conflicts).toMatchObject([{ ours: { firstSeed: xs[0], members: 3 }, theirs: { firstSeed: ys[0], members: 4 }, yielding: true }]);
  });

  it('members count only discovered peers: a member whose lease lapsed stops counting', async () => {
    const n = formedNode({ view: [A, B, C] });
    await n.decide();
    n.answers.set(B.host, () => inCluster(B, [A], 3));
    n.answers.set(C.host, () => inCluster(C, [A], 3));
    await n.clock.advance(INTERVAL + 600);
    expect((await n.coordinator.report()).members).toBe(3);
    n.setView([A, B]);
    await n.clock.advance(INTERVAL + 600);
    expect((await n.coordinator.report()).members).toBe(2);
    n.coordinator.stop();
  });

  it('an answer handled after probeTimeoutMs (this process was paused) is stale: no decision on it', async () => {
    // A probes B every ~1050 ms; B's answer "undecided, A is lowest" is in flight when A freezes for
    // 10 s, and meanwhile B forms a cluster. On resume that old answer must not pass for a fresh one:
    // it would open every gate (stable view, B agrees A is lowest) and A would form a second cluster.
    // A must re-probe instead, and join B's cluster.
    const clock = new SimClock(1);
    const nodeClock = clock.node();
    const n = formedNode({ clock, nodeClock, stableMarginMs: 5000 });
    let bFormed = false;
    n.answers.set(B.host, () => (bFormed ? inCluster(B, [B], 1) : undecided(B)));
    await clock.advance(4210); // the probe sent at 4200 is in flight, its answer due at 4250
    nodeClock.freeze();
    await clock.advance(10_000);
    bFormed = true;
    nodeClock.resume();
    await clock.advance(3000);
    expect((await n.coordinator.report()).seedNodes[0]).toEqual(B);
    n.coordinator.stop();
  });

  it('the legacy rules (negative control only) never check after the decision', async () => {
    const n = formedNode({ legacy: true });
    await n.decide();
    n.answers.set(B.host, () => inCluster(B, [X, B], 3));
    await n.clock.advance(3 * INTERVAL);
    expect(n.probed).toEqual([]);
    expect(n.conflicts).toEqual([]);
    expect(n.clock.pending).toBe(0);
  });
});

describe('ConflictWatch', () => {
  it('keeps checking every round after onConflict throws (the checks end only with stop())', async () => {
    const clock = new VirtualClock(0);
    let lookups = 0;
    const watch = new ConflictWatch({
      self: A,
      seeds: [A],
      intervalMs: 1000,
      probeTimeoutMs: 100,
      clock,
      random: () => 0,
      logger: silentLogger,
      discover: async () => {
        lookups++;
        return [A, B];
      },
      transport: { probe: async () => inCluster(B, [X], 1), close: async () => {} },
      onConflict: () => {
        throw new Error('application bug');
      },
      initialView: [],
      initialObservations: new Map(),
    });
    watch.start();
    await clock.advance(3 * 1000 + 50);
    expect(lookups).toBe(3);
    expect(watch.yielded).toBe(false);
    watch.stop();
    expect(clock.pending).toBe(0);
  });

  it('without a conflict, probes at most 5 peers a round, the lowest every time, and every peer within ⌈(n−2)/4⌉ rounds', async () => {
    const clock = new VirtualClock(0);
    const self = cp('10.0.0.7');
    const peers = Array.from({ length: 12 }, (_, i) => cp(`10.0.0.${i + 1}`)).filter((p) => p.host !== self.host);
    const rounds: string[][] = [];
    let current: string[] = [];
    const watch = new ConflictWatch({
      self,
      seeds: [self],
      intervalMs: 1000,
      probeTimeoutMs: 100,
      clock,
      random: () => 0.37,
      logger: silentLogger,
      discover: async () => {
        current = [];
        rounds.push(current);
        return [self, ...peers];
      },
      transport: {
        probe: async (p) => {
          current.push(p.host);
          return undecided(p);
        },
        close: async () => {},
      },
      initialView: [],
      initialObservations: new Map(),
    });
    watch.start();
    await clock.advance(3 * 1000 + 50); // ⌈(12 − 2) / 4⌉ = 3 rounds
    watch.stop();
    expect(rounds).toHaveLength(3);
    for (const r of rounds) {
      expect(r.length).toBeLessThanOrEqual(5);
      expect(r).toContain('10.0.0.1');
      expect(r).not.toContain(self.host);
    }
    expect(new Set(rounds.flat())).toEqual(new Set(peers.map((p) => p.host)));
    expect(clock.pending).toBe(0);
  });
});

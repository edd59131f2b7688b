/** Seeded scenario generation: the same seed always gives the same scenario (and, run, the same trace). */

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimNodeSpec {
  name: string;
  host: string;
  startAt: number;
  /** Killed (no more answers, no graceful deregistration) at this time. */
  crashAt?: number;
  /**
   * Frozen (SIGSTOP, a GC pause, a suspended VM) for `ms`, then resumed with its old state; frozen at
   * `at` (step 'time'), or `at` ms after a step of the protocol: 'join' (inside the application's
   * join(), just after deciding) or 'decided' (run() resolved, conflict checks running).
   */
  freeze?: { step: FreezeStep; at: number; ms: number };
  /** Started this long after every fault has healed: must join the surviving cluster. */
  lateByMs?: number;
  /** Application join latency. */
  joinMs: number;
}

/**
 * A network fault between `from` and `healAt`:
 * - split: the nodes fall into two sides; probes across are dropped, and/or each side's lookups
 *   stop returning the other side (two DNS views, a split registry);
 * - pairs: probes between a few pairs of nodes are dropped;
 * - registry: some nodes lose their registry (their lookups fail, their entries expire after ttlMs).
 * Every cut reaches each observer after its own lag, and heals the same way.
 */
export type Partition = PartitionTiming &
  (
    | { kind: 'split'; sideA: boolean[]; probes: boolean; discovery: boolean }
    | { kind: 'pairs'; pairs: [number, number][] }
    | { kind: 'registry'; cutOff: number[] }
  );

/**
 * A fault starts at `at` ('time'), or `at` ms after the first join() anywhere ('first-join': the
 * founder has just formed and nobody has joined it yet, the window where a split brain is born). It
 * lasts `durationMs`, or, with `healAfterDecidedMs`, heals that long after every running node has
 * decided (a heal right after formation, before a conflict check had a round to count anything).
 */
export interface PartitionTiming {
  trigger: 'time' | 'first-join';
  at: number;
  durationMs: number;
  healAfterDecidedMs?: number;
}

export type FreezeStep = 'time' | 'join' | 'decided';

export type FaultKind = 'none' | 'freeze' | 'split' | 'pairs' | 'registry' | 'mixed';

export interface Scenario {
  seed: number;
  kind: FaultKind;
  nodes: SimNodeSpec[];
  settings: {
    stableMarginMs: number;
    discoveryIntervalMs: number;
    discoveryMaxBackoffMs: number;
    probeIntervalMs: number;
    probeTimeoutMs: number;
    probeFailureWindowMs: number;
    requiredContactPoints: number;
    expectedContactPoints?: number;
    newClusterEnabled: true;
    resolveTimeoutMs: number;
    conflictCheckIntervalMs: number;
    strategy: 'lowest-address';
  };
  /** requiredContactPoints is the default (⌊E/2⌋+1 with E set, else from 2 to 4) rather than an explicit smaller value. */
  quorumDefault: boolean;
  /** The registry drops an entry this long after its node stopped renewing it (paused, cut off, killed). */
  ttlMs: number;
  partitions: Partition[];
  /** The application gives members() (its cluster layer's view); else nodes count what they see. */
  appMembers: boolean;
  /** A yielded node is restarted (by its orchestrator) this long after it left. */
  restartMs: number;
  /** Until then, lookups may fail or omit entries and probes may fail or hang. */
  convergeAt: number;
  faults: { lookupFail: number; omit: number; probeFail: number; probeHang: number };
  /** lagIn[i][j]: how long after j (re)appears in the registry it shows up in i's lookups; propOut: after it is gone. */
  lagIn: number[][];
  propOut: number[][];
  /** When the last fault with a fixed time ends (crashes, transient faults, timed pauses); partitions are added as they start. */
  fixedCalmAt: number;
  /** A fault triggered by a step that has not come by then never happens (so the calm phase always comes). */
  triggerDeadline: number;
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

export function makeScenario(seed: number): Scenario {
  const r = mulberry32(seed);
  // 2-30 nodes, small clusters more often (as in practice); every size still comes up.
  const n = 2 + (Math.floor(29 * r() ** 1.5) % 29);
  const stableMarginMs = pick(r, [1000, 2000, 3000, 5000]);
  const discoveryIntervalMs = int(r, 200, Math.min(1000, stableMarginMs / 4));
  const probeIntervalMs = int(r, 250, 1000);
  const probeTimeoutMs = int(r, 100, 1000);
  const expected = r() < 0.5 ? n : undefined;
  // DESIGN §5.5.2: a majority of E by default. An explicit smaller value is allowed (it warns); then
  // a split may form two clusters, and the invariant is that one of them yields after the heal.
  const quorumDefault = expected === undefined || expected < 2 || r() < 0.8;
  const requiredContactPoints =
    expected !== undefined ? (quorumDefault ? Math.floor(expected / 2) + 1 : int(r, 1, Math.floor(expected / 2))) : int(r, 2, Math.min(n, 4));
  const settings: Scenario['settings'] = {
    stableMarginMs,
    discoveryIntervalMs,
    // One failed lookup adds at most one interval: the bound on how stale a view can get.
    discoveryMaxBackoffMs: discoveryIntervalMs,
    probeIntervalMs,
    probeTimeoutMs,
    probeFailureWindowMs: probeIntervalMs * int(r, 2, 4) + probeTimeoutMs,
    requiredContactPoints,
    newClusterEnabled: true,
    resolveTimeoutMs: 10_000,
    conflictCheckIntervalMs: pick(r, [1000, 2500, 5000]),
    strategy: 'lowest-address',
    ...(expected !== undefined ? { expectedContactPoints: expected } : {}),
  };
  const ttlMs = pick(r, [1000, 3000, 5000]);
  const late = r() < 0.5 ? int(r, 1, 3) : 0;
  // Random, distinct addresses: start order and address order are unrelated.
  const hosts = new Set<string>();
  while (hosts.size < n + late) hosts.add(`10.0.${int(r, 0, 3)}.${int(r, 1, 254)}`);
  const spread = pick(r, [0, 500, 3000, 10_000]);
  const crashy = r() < 0.3;
  const nodes: SimNodeSpec[] = [...hosts].slice(0, n).map((host, i) => {
    const startAt = Math.floor(r() * spread);
    const node: SimNodeSpec = { name: `n${i}`, host, startAt, joinMs: int(r, 0, 50) };
    if (crashy && r() < 0.15) node.crashAt = startAt + Math.floor(r() * (stableMarginMs * 3));
    return node;
  });
  const kind: FaultKind = pick(r, ['none', 'none', 'none', 'freeze', 'freeze', 'freeze', 'split', 'split', 'pairs', 'registry', 'mixed']);
  const window = spread + stableMarginMs * 3 + 2000; // timed faults start anywhere from before the decision to well after it
  // A step-triggered fault comes right at the step (as the fault suite stops a process at a step's log
  // line) or within a probe round of it: before any peer has probed the founder and joined it.
  const soon = () => (r() < 0.5 ? int(r, 0, 20) : int(r, 0, probeIntervalMs));
  const partitions: Partition[] = [];
  const duration = () => pick(r, [int(r, 500, 3000), int(r, 3000, 12_000), int(r, 12_000, 25_000)]);
  if (kind === 'freeze' || kind === 'mixed') {
    // The lowest node more often: the founder paused past its lease is the case of the issue.
    const lowest = nodes.reduce((a, b, i) => (compareHosts(b.host, nodes[a]!.host) < 0 ? i : a), 0);
    const count = int(r, 1, Math.max(1, Math.floor(n / 3)));
    for (let k = 0; k < count; k++) {
      const i = k === 0 && r() < 0.6 ? lowest : int(r, 0, n - 1);
      const node = nodes[i]!;
      const ms = r() < 0.25 ? int(r, 100, Math.floor(ttlMs / 2)) : int(r, Math.ceil(ttlMs * 1.2), ttlMs * 3 + 5000);
      const step = pick(r, ['time', 'join', 'join', 'decided'] as const);
      node.freeze = { step, at: step === 'time' ? node.startAt + Math.floor(r() * window) : soon(), ms };
    }
  }
  const addPartition = (k: 'split' | 'pairs' | 'registry') => {
    const trigger = r() < 0.5 ? 'first-join' : 'time';
    const timing: PartitionTiming = { trigger, at: trigger === 'time' ? Math.floor(r() * window) : soon(), durationMs: duration() };
    if (k === 'split' && r() < 0.4) {
      timing.durationMs = 30_000; // at the latest
      timing.healAfterDecidedMs = int(r, 0, 1000);
    }
    if (k === 'split') {
      const p = 0.2 + 0.6 * r();
      const sideA = nodes.map(() => r() < p);
      // Both sides non-empty.
      if (sideA.every((x) => x)) sideA[int(r, 0, n - 1)] = false;
      else if (sideA.every((x) => !x)) sideA[int(r, 0, n - 1)] = true;
      const cut = pick(r, ['probes', 'discovery', 'both', 'both'] as const);
      partitions.push({ ...timing, kind: 'split', sideA, probes: cut !== 'discovery', discovery: cut !== 'probes' });
    } else if (k === 'pairs') {
      const pairs: [number, number][] = [];
      for (let c = int(r, 1, n); c > 0; c--) {
        const a = int(r, 0, n - 1),
          b = int(r, 0, n - 1);
        if (a !== b) pairs.push([a, b]);
      }
      partitions.push({ ...timing, kind: 'pairs', pairs });
    } else {
      const cutOff = [...new Set(Array.from({ length: int(r, 1, Math.max(1, Math.floor(n / 3))) }, () => int(r, 0, n - 1)))];
      partitions.push({ ...timing, kind: 'registry', cutOff });
    }
  };
  if (kind === 'split' || kind === 'pairs' || kind === 'registry') addPartition(kind);
  if (kind === 'mixed') addPartition(pick(r, ['split', 'pairs', 'registry'] as const));
  for (const [k, host] of [...hosts].slice(n).entries())
    nodes.push({ name: `late${k}`, host, startAt: 0, joinMs: int(r, 0, 50), lateByMs: Math.floor(r() * 5000) });
  // A view lags truth by less than the stable margin (DESIGN's assumption; docs/bootstrap.md).
  const maxLag = Math.max(0, stableMarginMs - 2 * discoveryIntervalMs - 100);
  const lagIn = nodes.map((_, i) => nodes.map((_, j) => (i === j ? 0 : Math.floor(r() * r() * maxLag))));
  const propOut = nodes.map(() => nodes.map(() => Math.floor(r() * 500)));
  const convergeAt = Math.max(...nodes.filter((x) => x.lateByMs === undefined).map((x) => x.startAt)) + pick(r, [0, 1000, 5000, 15_000]);
  const faulty = r() < 0.7;
  const fixedCalmAt = Math.max(convergeAt, ...nodes.map((x) => Math.max(x.crashAt ?? 0, x.freeze?.step === 'time' ? x.freeze.at + x.freeze.ms : 0)));
  return {
    seed,
    kind,
    nodes,
    settings,
    quorumDefault,
    ttlMs,
    partitions,
    convergeAt,
    lagIn,
    propOut,
    fixedCalmAt,
    triggerDeadline: window + 10_000,
    appMembers: r() < 0.5,
    restartMs: int(r, 200, 3000),
    faults: faulty
      ? { lookupFail: r() * 0.2, omit: r() * 0.05, probeFail: r() * 0.2, probeHang: r() * 0.1 }
      : { lookupFail: 0, omit: 0, probeFail: 0, probeHang: 0 },
  };
}

/** Canonical order of the sim's IPv4 hosts (DESIGN §5.1): numeric by octet. */
export function compareHosts(a: string, b: string): number {
  const x = a.split('.').map(Number),
    y = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

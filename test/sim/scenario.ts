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
  /** Application join latency. */
  joinMs: number;
}

export interface Scenario {
  seed: number;
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
    strategy: 'lowest-address';
  };
  /** Until then, lookups may fail or omit entries and probes may fail or hang. */
  convergeAt: number;
  faults: { lookupFail: number; omit: number; probeFail: number; probeHang: number };
  /** lagIn[i][j]: how long after j starts it shows up in i's lookups; lagOut: after j crashes, until it disappears. */
  lagIn: number[][];
  lagOut: number[][];
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

export function makeScenario(seed: number): Scenario {
  const r = mulberry32(seed);
  // 2-30 nodes, small clusters more often (as in practice); every size still comes up.
  const n = 2 + Math.floor(29 * Math.pow(r(), 1.5)) % 29;
  const stableMarginMs = pick(r, [1000, 2000, 3000, 5000]);
  const discoveryIntervalMs = int(r, 200, Math.min(1000, stableMarginMs / 4));
  const probeIntervalMs = int(r, 250, 1000);
  const probeTimeoutMs = int(r, 100, 1000);
  const requiredContactPoints = int(r, 2, Math.min(n, 4));
  const expected = r() < 0.5 ? n : undefined;
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
    strategy: 'lowest-address',
    ...(expected !== undefined ? { expectedContactPoints: expected } : {}),
  };
  // Random, distinct addresses: start order and address order are unrelated.
  const hosts = new Set<string>();
  while (hosts.size < n) hosts.add(`10.0.${int(r, 0, 3)}.${int(r, 1, 254)}`);
  const spread = pick(r, [0, 500, 3000, 10_000]);
  const crashy = r() < 0.3;
  const nodes: SimNodeSpec[] = [...hosts].map((host, i) => {
    const startAt = Math.floor(r() * spread);
    const node: SimNodeSpec = { name: `n${i}`, host, startAt, joinMs: int(r, 0, 50) };
    if (crashy && r() < 0.15) node.crashAt = startAt + Math.floor(r() * (stableMarginMs * 3));
    return node;
  });
  // A view lags truth by less than the stable margin (DESIGN's assumption; docs/bootstrap.md).
  const maxLag = Math.max(0, stableMarginMs - 2 * discoveryIntervalMs - 100);
  const lagIn = nodes.map((_, i) => nodes.map((_, j) => (i === j ? 0 : Math.floor(r() * r() * maxLag))));
  const lagOut = nodes.map(() => nodes.map(() => Math.floor(r() * 3000)));
  const convergeAt = Math.max(...nodes.map((x) => x.startAt)) + pick(r, [0, 1000, 5000, 15_000]);
  const faulty = r() < 0.7;
  return {
    seed, nodes, settings, convergeAt, lagIn, lagOut,
    faults: faulty ? { lookupFail: r() * 0.2, omit: r() * 0.05, probeFail: r() * 0.2, probeHang: r() * 0.1 } : { lookupFail: 0, omit: 0, probeFail: 0, probeHang: 0 },
  };
}

import { compareHosts, type Scenario } from './scenario.js';
import type { SimNode } from './world.js';

/** The time bounds a scenario states (virtual ms), derived from its settings; see README in this folder. */
export interface SettleBounds {
  /** After calm (and after the last start anywhere), every running node has decided within this. */
  decideMs: number;
  /** After calm, one cluster remains (every loser yielded, was restarted and rejoined) within this. */
  settleMs: number;
}

export function settleBounds(sc: Scenario): SettleBounds {
  const s = sc.settings;
  let maxLag = 0;
  for (const row of sc.lagIn) for (const x of row) maxLag = Math.max(maxLag, x);
  for (const row of sc.propOut) for (const x of row) maxLag = Math.max(maxLag, x);
  // Every view shows the truth: an entry that lapsed comes back or is gone, then one lookup.
  const viewMs = sc.ttlMs + maxLag + 2 * s.discoveryIntervalMs + 50;
  const probeRound = 1.2 * s.probeIntervalMs + s.probeTimeoutMs;
  // As without faults (docs/bootstrap.md): stable margin + 3 probe rounds + 2 lookups after the view settles.
  const decideMs = viewMs + s.stableMarginMs + 3 * probeRound + 2 * s.discoveryIntervalMs + 200;
  // A node meets the lowest peer every round and any other within ⌈(n−2)/4⌉ rounds (DESIGN §5.5.3);
  // two more rounds let member counts settle after the first yields.
  const round = s.conflictCheckIntervalMs + s.probeTimeoutMs + 50;
  const detectMs = (Math.ceil(Math.max(0, sc.nodes.length - 2) / 4) + 2) * round;
  // Late joiners start up to 5 s after calm; a loser yields, restarts and joins the survivor.
  return { decideMs, settleMs: 5000 + viewMs + decideMs + detectMs + sc.restartMs + decideMs };
}

/** The clusters when a partition healed: running nodes per first seed, and the nodes not in one (undecided or frozen). */
export interface HealSnapshot {
  at: number;
  clusters: Record<string, number>;
  undecided: number;
}

/** The heal of a split between decided clusters, with nothing else going on (no kill, pause or transient fault). */
export function healedSplit(sc: Scenario, heals: readonly HealSnapshot[]): HealSnapshot | undefined {
  const heal = heals.at(-1);
  const kills = sc.nodes.some((s) => s.crashAt !== undefined);
  return sc.kind === 'split' && !kills && heal && heal.at >= sc.convergeAt && heal.undecided === 0 && Object.keys(heal.clusters).length > 1 ? heal : undefined;
}

export interface CheckInput {
  sc: Scenario;
  nodes: SimNode[];
  now: number;
  /** When the last fault healed (known only at run time: some faults wait for a step). */
  calmAt: number;
  limit: number;
  bounds: SettleBounds;
  yields: number;
  heals: HealSnapshot[];
}

/**
 * The invariant (issue 9, DESIGN §5.5), checked once the run ends (it ends as soon as it holds after
 * calm, or at calmAt + settleMs):
 * 1. exactly one cluster remains among running nodes that did not yield; every node that joined
 *    another one yielded through onConflict (or was killed); late joiners and restarted nodes are in it;
 * 2. without kills, every running node decided within decideMs of calm or of the last (re)start;
 * 3. in scenarios without pauses, partitions or lease loss and with requiredContactPoints ≥ 2, the
 *    stronger pre-§5.5 invariant: nobody ever yields and at most one node that is never killed
 *    self-joins; every node decides within the stable margin + 3 probe rounds of the last view change.
 */
export function checkInvariants({ sc, nodes, now, calmAt, limit, bounds, yields, heals }: CheckInput): string | undefined {
  const host = (n: SimNode) => n.point.host;
  const running = nodes.filter((n) => !n.crashed && n.current);
  const kills = sc.nodes.some((s) => s.crashAt !== undefined);
  for (const n of nodes) {
    for (const inc of n.incarnations) if (inc.decision && inc.decision.seeds.length > 5) return `${host(n)} got ${inc.decision.seeds.length} seeds (at most 5)`;
  }

  // 1. One cluster.
  const clusters = new Map<string, string[]>();
  for (const n of running) {
    const d = n.current!.decision;
    if (d) clusters.set(d.seeds[0]!.host, [...(clusters.get(d.seeds[0]!.host) ?? []), host(n)]);
  }
  if (clusters.size > 1) {
    const list = [...clusters].map(([f, m]) => `${f} (${m.length} node${m.length > 1 ? 's' : ''})`).join(', ');
    const when = now >= calmAt ? `${now - calmAt} ms after the last fault healed` : 'with nothing left to run';
    return `split brain: ${clusters.size} clusters remain at ${now} ms, ${when}, and none yielded: ${list}`;
  }
  const survivor = [...clusters.keys()][0];
  if (survivor !== undefined) {
    for (const n of nodes) {
      for (const inc of n.incarnations) {
        if (inc.decision && inc.decision.seeds[0]!.host !== survivor && inc.yieldedAt === undefined && !inc.crashed) {
          return `${host(n)} is in cluster ${inc.decision.seeds[0]!.host} beside the survivor ${survivor} and did not yield`;
        }
      }
    }
    if (!nodes.some((n) => n.point.host === survivor && n.incarnations.some((i) => i.selfJoined)))
      return `the surviving cluster ${survivor} was never formed by ${survivor}`;
    // DESIGN §5.5.4: when a split heals with every node decided on one side or the other (and
    // nothing else going on: no pause, kill or flaky probe), the larger side survives, ties to the
    // lower first seed; the nodes of both sides count the same answers.
    const heal = healedSplit(sc, heals);
    if (heal) {
      const expected = Object.entries(heal.clusters).sort(([a, x], [b, y]) => y - x || compareHosts(a, b))[0]![0];
      if (survivor !== expected)
        return `the split healed at ${heal.at} ms with clusters ${JSON.stringify(heal.clusters)}: ${expected} should survive, ${survivor} did`;
    }
  }

  // 2. Liveness, within the stated bound.
  if (!kills) {
    const undecided = running.filter((n) => !n.current!.decision);
    const waiting = (n: SimNode) => `${n.current!.coordinator.waitingOn?.gate} — ${n.current!.coordinator.waitingOn?.detail}`;
    if (undecided.length > 0)
      return `${undecided.length} node(s) never decided by ${Math.min(now, limit)} ms (e.g. ${host(undecided[0]!)}: ${waiting(undecided[0]!)})`;
    const lastStart = Math.max(...nodes.flatMap((n) => n.incarnations.map((i) => i.startedAt)));
    const bound = Math.max(calmAt, lastStart) + bounds.decideMs;
    const late = running.find((n) => n.current!.decision!.decidedAt > bound);
    if (late)
      return (
        `${host(late)} decided at ${late.current!.decision!.decidedAt} ms, ` +
        `later than the bound ${Math.round(bound)} ms (calm at ${calmAt}, last start ${lastStart})`
      );
  }

  // 3. The stronger invariant where nothing can split the view.
  if (sc.kind === 'none' && sc.settings.requiredContactPoints >= 2) {
    if (yields > 0) return `${yields} node(s) yielded in a scenario without pauses or partitions: two clusters formed`;
    const selfJoins = nodes.filter((n) => !n.crashed && n.incarnations.some((i) => i.selfJoined));
    if (selfJoins.length > 1) return `two clusters: ${selfJoins.map(host).join(' and ')} both self-joined`;
    if (!kills) {
      const s = sc.settings;
      const lastChange = Math.max(...nodes.map((n) => n.lastViewChangeAt), sc.convergeAt);
      const bound = lastChange + s.stableMarginMs + 3 * (1.2 * s.probeIntervalMs + s.probeTimeoutMs) + 2 * s.discoveryIntervalMs + 200;
      const late = running.find((n) => n.current!.decision!.decidedAt > bound);
      if (late)
        return (
          `${host(late)} decided at ${late.current!.decision!.decidedAt} ms, ` +
          `later than the bound ${Math.round(bound)} ms (last view change ${lastChange} ms)`
        );
    }
  }
  return undefined;
}

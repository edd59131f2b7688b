import { canonicalize, compareContactPoints, formatHostPort, sameContactPoint } from '../address.js';
import type { BootstrapSettings } from '../config/schema.js';
import type { ContactPoint } from '../types.js';
import { survivingCluster } from './conflict.js';
import type { SeedNodesResponse } from './protocol.js';

/** The latest successful probe of one contact point. */
export interface PeerObservation {
  response: SeedNodesResponse;
  /** When the response arrived. */
  at: number;
}

export type DeciderSettings = Pick<
  BootstrapSettings,
  'newClusterEnabled' | 'requiredContactPoints' | 'stableMarginMs' | 'expectedContactPoints' | 'probeFailureWindowMs'
>;

export interface DeciderInput {
  self: ContactPoint;
  /** The current discovered set, canonical order (self included when discovered). */
  view: readonly ContactPoint[];
  /** pointKey of every view entry, same order (the coordinator computes them once per view change). */
  viewKeys?: readonly string[];
  /** When the current set was first seen; undefined before the first successful lookup. */
  viewSince: number | undefined;
  /** Latest successful observation per contact point, keyed by pointKey. */
  observations: ReadonlyMap<string, PeerObservation>;
  settings: DeciderSettings;
  now: number;
  /**
   * Test-only (the simulation's negative control): the pre-§5.5 rule for disagreeing first seeds,
   * "the lowest first seed", which ignores cluster sizes. Never set in production.
   */
  lowestFirstSeedRule?: boolean;
}

/** The self-join gates of DESIGN §5.2 step 4, in the order they are checked. */
export type Gate = 'new-cluster-disabled' | 'required-contact-points' | 'unconfirmed-contact-points' | 'stable-margin' | 'not-lowest' | 'view-agreement';

export type Decision =
  | {
      kind: 'join';
      /** First seed first, then other members in canonical order, at most 5. */
      seeds: ContactPoint[];
      /** Other first seeds peers reported (a split brain; logged loudly), canonical order. */
      conflictingFirstSeeds: ContactPoint[];
      /** Members of the joined cluster: the responders that named its first seed. */
      members: number;
    }
  | { kind: 'self-join' }
  | { kind: 'wait'; gate: Gate; detail: string };

export const MAX_SEEDS = 5;

/**
 * Identity of a normalized contact point (hosts are normalized by canonicalize / the protocol parser):
 * a plain string, because the decider runs after every probe and must stay cheap.
 */
export const pointKey = (p: Pick<ContactPoint, 'host' | 'port'>): string => `${p.host}|${p.port ?? ''}`;

/** The first few points, then how many more: a gate's detail is a log line, also at N = 200. */
const LISTED = 5;
const list = (points: readonly ContactPoint[]) =>
  points
    .slice(0, LISTED)
    .map((p) => formatHostPort(p))
    .join(', ') + (points.length > LISTED ? ` and ${points.length - LISTED} more` : '');

/**
 * Pure: the same inputs always give the same decision, so it is unit-tested directly and the
 * simulation exercises exactly the logic the real coordinator runs.
 */
export function decide(input: DeciderInput): Decision {
  const { self, view, observations, settings, now } = input;
  const selfKey = pointKey(self);
  const fresh: { point: ContactPoint; response: SeedNodesResponse }[] = [];
  const unconfirmed: ContactPoint[] = [];
  for (let i = 0; i < view.length; i++) {
    const point = view[i]!;
    const k = input.viewKeys?.[i] ?? pointKey(point);
    if (k === selfKey) continue;
    const obs = observations.get(k);
    if (obs && now - obs.at <= settings.probeFailureWindowMs) fresh.push({ point, response: obs.response });
    else unconfirmed.push(point);
  }

  // 1. Someone is already in a cluster: join it, whatever the gates say — once every discovered peer
  // has answered (or had a failure window to), so that two clusters, should they exist, are both
  // seen and the survivor rule picks the one that stays (DESIGN §5.5.4), not the first to answer.
  const inCluster = fresh.filter((f) => f.response.seedNodes.length > 0);
  if (inCluster.length > 0) {
    const heardFor = input.viewSince === undefined ? 0 : now - input.viewSince;
    if (unconfirmed.length > 0 && heardFor < settings.probeFailureWindowMs && input.lowestFirstSeedRule !== true) {
      return {
        kind: 'wait',
        gate: 'unconfirmed-contact-points',
        detail: `joining once ${list(unconfirmed)} answered or counts as failed (peers may be in different clusters)`,
      };
    }
    return joinDecision(inCluster, input.lowestFirstSeedRule === true);
  }

  // 2. Otherwise form one only when every gate is open.
  if (!settings.newClusterEnabled) {
    return { kind: 'wait', gate: 'new-cluster-disabled', detail: 'bootstrap.newClusterEnabled is false and no peer is in a cluster yet' };
  }
  const confirmed = fresh.length + 1; // self is always a fresh observation of itself
  if (confirmed < settings.requiredContactPoints) {
    return {
      kind: 'wait',
      gate: 'required-contact-points',
      detail: `${confirmed} of ${settings.requiredContactPoints} required contact points confirmed (self included); discovered ${view.length}`,
    };
  }
  if (unconfirmed.length > 0) {
    return { kind: 'wait', gate: 'unconfirmed-contact-points', detail: `no successful probe within the failure window from ${list(unconfirmed)}` };
  }
  const expected = settings.expectedContactPoints;
  const fastPath = expected !== undefined && view.length >= expected;
  const stableFor = input.viewSince === undefined ? 0 : now - input.viewSince;
  if (!fastPath && (input.viewSince === undefined || stableFor < settings.stableMarginMs)) {
    return {
      kind: 'wait',
      gate: 'stable-margin',
      detail:
        `view of ${view.length} stable for ${stableFor} of ${settings.stableMarginMs} ms` +
        (expected !== undefined ? ` (fast path at ${expected} contact points)` : ''),
    };
  }
  // The view is in canonical order: its first point is the lowest.
  const lowest = view[0];
  if (!lowest || pointKey(lowest) !== selfKey) {
    return {
      kind: 'wait',
      gate: 'not-lowest',
      detail: lowest ? `${formatHostPort(lowest)} is lower than self ${formatHostPort(self)}` : `self ${formatHostPort(self)} is not in the discovered view`,
    };
  }
  const dissent = fresh.filter((f) => !f.response.lowest || pointKey(f.response.lowest) !== selfKey);
  if (dissent.length > 0) {
    const d = dissent[0]!;
    return {
      kind: 'wait',
      gate: 'view-agreement',
      detail:
        `${formatHostPort(d.point)} sees ${d.response.lowest ? formatHostPort(d.response.lowest) : 'no contact point'} as lowest` +
        (dissent.length > 1 ? ` (and ${dissent.length - 1} more peers disagree)` : ''),
    };
  }
  return { kind: 'self-join' };
}

/**
 * Joins the cluster the responders name. When they disagree on the first seed, more than one cluster
 * exists: join the one that survives by the rule every node applies (DESIGN §5.5.4, compareClusters:
 * more members, ties to the lower first seed), so joiners never feed the cluster that is going to yield.
 * A cluster's members are the responders that name its first seed: the same evidence the clusters'
 * own conflict checks count (ConflictWatch's census), so a joiner picks the cluster they keep. (The
 * `members` each responder reports is what it has seen so far, and differs from node to node.)
 */
function joinDecision(inCluster: { point: ContactPoint; response: SeedNodesResponse }[], lowestFirstSeedRule: boolean): Decision {
  const clusters = new Map<string, { firstSeed: ContactPoint; members: number }>();
  for (const f of inCluster) {
    const firstSeed = f.response.seedNodes[0]!;
    const k = pointKey(firstSeed);
    const c = clusters.get(k);
    if (!c) clusters.set(k, { firstSeed, members: 1 });
    else c.members++;
  }
  const reports = [...clusters.values()];
  const winner = lowestFirstSeedRule ? reports.reduce((a, b) => (compareContactPoints(b.firstSeed, a.firstSeed) < 0 ? b : a)) : survivingCluster(reports);
  const first = winner.firstSeed;
  const agreeing = inCluster.filter((f) => sameContactPoint(f.response.seedNodes[0]!, first));
  const others = canonicalize(agreeing.flatMap((f) => [f.point, ...f.response.seedNodes.slice(1)])).filter((p) => compareContactPoints(p, first) !== 0);
  return {
    kind: 'join',
    seeds: [first, ...others].slice(0, MAX_SEEDS).map((p) => ({ host: p.host, ...(p.port !== undefined ? { port: p.port } : {}) })),
    conflictingFirstSeeds: canonicalize(reports.filter((r) => r !== winner).map((r) => r.firstSeed)),
    members: winner.members,
  };
}

/** What to do about the gate a node still waits on (the hint of its timeout error). */
export function gateHint(gate: Gate | undefined): string {
  switch (gate) {
    case 'new-cluster-disabled':
      return 'no peer is in a cluster and newClusterEnabled is false: start the cluster elsewhere, or enable it';
    case 'required-contact-points':
      return 'start more nodes, or lower bootstrap.requiredContactPoints';
    case 'unconfirmed-contact-points':
      return (
        'a discovered peer does not answer on its management endpoint: ' +
        'check that it runs, the port, firewalls, management.token, ' +
        'and with management.tls the same CA on every node and the probed address in each certificate'
      );
    case 'stable-margin':
      return 'the discovered set keeps changing: check discovery, or raise bootstrapTimeoutMs';
    case 'not-lowest':
      return 'a lower node is discovered but has not formed the cluster: check that it is healthy, and that self matches what discovery returns';
    case 'view-agreement':
      return 'peers discover a different set than this node: check that every node uses the same discovery settings';
    default:
      return 'check that join() resolves';
  }
}

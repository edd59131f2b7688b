import { compareContactPoints, formatHostPort } from '../address.js';
import type { ContactPoint } from '../types.js';

/**
 * A cluster conflict (DESIGN §5.5): after this node decided, a live peer (lowest-address) or the
 * registry's record (lock) names a different first seed. Both sides compute the same survivor, so
 * exactly one of them yields.
 */
export interface ClusterConflict {
  strategy: 'lowest-address' | 'lock';
  ours: { firstSeed: ContactPoint; members: number };
  theirs: { firstSeed: ContactPoint; seeds: ContactPoint[]; members: number };
  /** True on the losing side: this node must leave and rejoin the surviving cluster. */
  yielding: boolean;
}

/** One side of a lowest-address conflict: a cluster named by its first seed and its member count. */
export interface ClusterReport {
  firstSeed: ContactPoint;
  members: number;
}

/**
 * The lowest-address survivor rule (DESIGN §5.5.4): more members wins, ties go to the lower first
 * seed (§5.1). A pure, total order on reports, so every node that sees the same two reports picks the
 * same winner. Returns a negative number when `a` survives, positive when `b` does, 0 when they are
 * the same cluster.
 */
export function compareClusters(a: ClusterReport, b: ClusterReport): number {
  const byFirstSeed = compareContactPoints(a.firstSeed, b.firstSeed);
  if (byFirstSeed === 0) return 0;
  if (a.members !== b.members) return b.members - a.members;
  return byFirstSeed;
}

/** The surviving cluster among `reports` (at least one) by compareClusters. */
export function survivingCluster<T extends ClusterReport>(reports: readonly T[]): T {
  let best = reports[0]!;
  for (const r of reports.slice(1)) if (compareClusters(r, best) < 0) best = r;
  return best;
}

export function describeConflict(c: ClusterConflict): string {
  const ours = `${formatHostPort(c.ours.firstSeed)} (${c.ours.members} members)`;
  const theirs = `${formatHostPort(c.theirs.firstSeed)} (${c.theirs.members} members)`;
  return c.yielding
    ? `cluster conflict: this node's cluster ${ours} loses to ${theirs}; yielding — leave and rejoin the surviving cluster`
    : `cluster conflict: another cluster ${theirs} exists beside ours ${ours}; ours survives, the other side yields`;
}

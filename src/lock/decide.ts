import { canonicalize, sameContactPoint } from '../address.js';
import type { ContactPoint } from '../types.js';
import type { ClusterRecord } from './seed-lock.js';

/** At most this many seeds in a result (DESIGN §5). */
export const MAX_SEEDS = 5;

export type RecordDecision =
  /** A live cluster exists: join these, first seed first. */
  | { kind: 'join'; seeds: ContactPoint[] }
  /**
   * The record needs fixing under the lock: first-seed is stale (owner no longer registered) or
   * missing while live members exist. `replacement` (the lowest live member) becomes first-seed; with
   * none, the stale first-seed is removed so a new election runs.
   */
  | { kind: 'repair'; stale?: ContactPoint; replacement?: ContactPoint }
  /** No cluster: whoever holds the lock forms one. */
  | { kind: 'elect' };

/**
 * The lock strategy's reading of the cluster record (DESIGN §5.3 step 2–3), a pure function of the
 * record, the live registrations and self. Self never counts as live here: a record naming our own
 * address is a leftover of an earlier incarnation (we are not in a cluster yet).
 */
export function decideFromRecord(record: ClusterRecord, live: readonly ContactPoint[], self: ContactPoint): RecordDecision {
  const isLive = (cp: ContactPoint) => !sameContactPoint(cp, self) && live.some((l) => sameContactPoint(l, cp));
  const liveMembers = canonicalize(record.members.filter(isLive));
  const firstSeed = record.firstSeed;
  if (firstSeed && isLive(firstSeed)) {
    const others = liveMembers.filter((m) => !sameContactPoint(m, firstSeed));
    return { kind: 'join', seeds: [firstSeed, ...others].slice(0, MAX_SEEDS) };
  }
  if (firstSeed || liveMembers.length > 0) {
    const decision: RecordDecision = { kind: 'repair' };
    if (firstSeed) decision.stale = firstSeed;
    if (liveMembers[0]) decision.replacement = liveMembers[0];
    return decision;
  }
  return { kind: 'elect' };
}

import { canonicalize, sameContactPoint } from '../address.js';
import type { ContactPoint } from '../types.js';
import type { ClusterRecord, FirstSeed } from './seed-lock.js';

/** At most this many seeds in a result (DESIGN §5). */
export const MAX_SEEDS = 5;

export type RecordDecision =
  /** A live cluster exists: join these, first seed first. `formation` is the record they belong to. */
  | { kind: 'join'; seeds: ContactPoint[]; formation: FirstSeed }
  /**
   * The record needs fixing under the lock: first-seed is stale (owner no longer registered) or
   * missing while live members exist. `replacement` (the lowest live member) becomes first-seed; with
   * none, the stale first-seed is removed so a new election runs.
   */
  | { kind: 'repair'; stale?: FirstSeed; replacement?: FirstSeed }
  /**
   * A live node marked first-seed `forming`: it is inside its join([self]) and holds the lock — or it
   * gave the lock up (an error with an unknown outcome), which whoever gets the lock can tell.
   */
  | { kind: 'wait-for-founder'; founder: ContactPoint; forming: FirstSeed }
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
  if (firstSeed?.forming) {
    // A founder inside its join([self]): not a cluster yet, so it has no members to hand over to.
    return isLive(firstSeed.point) ? { kind: 'wait-for-founder', founder: firstSeed.point, forming: firstSeed } : { kind: 'repair', stale: firstSeed };
  }
  if (firstSeed && isLive(firstSeed.point)) {
    const others = liveMembers.filter((m) => !sameContactPoint(m, firstSeed.point));
    return { kind: 'join', seeds: [firstSeed.point, ...others].slice(0, MAX_SEEDS), formation: firstSeed };
  }
  if (firstSeed || liveMembers.length > 0) {
    const decision: RecordDecision = { kind: 'repair' };
    if (firstSeed) decision.stale = firstSeed;
    // The replacement continues the same formation: its members are in the cluster already.
    if (liveMembers[0])
      decision.replacement = firstSeed?.cluster !== undefined ? { point: liveMembers[0], cluster: firstSeed.cluster } : { point: liveMembers[0] };
    return decision;
  }
  return { kind: 'elect' };
}

import { monotonicNow, type Clock } from '../../src/clock.js';
import { annotation, FIRST_SEED_ANNOTATION, holderOf, MEMBERS_ANNOTATION, type LeaseWire } from './lease-record.js';

/*
 * What a node has seen of the Leases (lease-lock.ts). Expiry is judged as client-go's leaderelection
 * does (observedRecord/observedTime): a record held by someone else expires leaseDurationSeconds
 * after the moment, on OUR monotonic clock, at which we last saw its resourceVersion change.
 * renewTime is never compared: it comes from another node's wall clock.
 */

/** client-go's observedRecord/observedTime for the lock Lease. */
export interface Observation {
  resourceVersion: string;
  holder: string;
  at: number;
  durationMs: number;
}

/** client-go's setObservedRecord: the clock restarts only when the record changed. */
export function observe(previous: Observation | undefined, lease: LeaseWire, defaultSeconds: number, clock: Clock): Observation {
  if (previous?.resourceVersion === lease.metadata.resourceVersion) return previous;
  const seconds = lease.spec?.leaseDurationSeconds ?? defaultSeconds;
  return {
    resourceVersion: lease.metadata.resourceVersion,
    holder: holderOf(lease),
    at: monotonicNow(clock),
    durationMs: Math.max(1, seconds) * 1000,
  };
}

/** Not seen to change for its leaseDurationSeconds on our monotonic clock. */
export function expired(o: Observation | undefined, clock: Clock): boolean {
  return o !== undefined && monotonicNow(clock) - o.at >= o.durationMs;
}

/** Held by someone other than `identity`, and expired. */
export function expiredForeign(o: Observation | undefined, identity: string | undefined, clock: Clock): boolean {
  return o !== undefined && o.holder !== '' && o.holder !== identity && expired(o, clock);
}

export interface Fingerprint {
  lock: string;
  members: string;
}

/** What counts as a change for waiters: holder, acquisition, first-seed; members' text. Not renewals. */
export function fingerprint(lock: LeaseWire | undefined, members: LeaseWire | undefined): Fingerprint {
  const l = lock
    ? JSON.stringify([holderOf(lock), lock.spec?.acquireTime ?? '', lock.spec?.leaseTransitions ?? 0, annotation(lock, FIRST_SEED_ANNOTATION) ?? null])
    : 'absent';
  return { lock: l, members: members ? (annotation(members, MEMBERS_ANNOTATION) ?? '') : 'absent' };
}

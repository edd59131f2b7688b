import { sleep } from '../../src/backoff.js';
import { monotonicNow, type Clock } from '../../src/clock.js';
import { expiredForeign, type Fingerprint, type Observation } from './lease-observation.js';

/*
 * The lock's waitForChange (lease-lock.ts) by polling the two Leases: no watch permission needed.
 * Renewals alone (renewTime, resourceVersion) are no change: waiters would wake every
 * leaseDuration/3 for nothing, so what is compared is the Fingerprint (lease-observation.ts).
 */

/**
 * The first re-read comes after FIRST_POLL_MS, then at doubling intervals up to this cap while
 * nothing changes: 2 GETs per 5 s for a decided node watching its record.
 */
export const DEFAULT_POLL_INTERVAL_MS = 5000;
const FIRST_POLL_MS = 250;

export interface PollTarget {
  /** Reads both Leases; reading the lock Lease updates observed(). */
  read: (signal?: AbortSignal) => Promise<Fingerprint>;
  observed: () => Observation | undefined;
  /** The holderIdentity of this process, if it has one yet. */
  identity: () => string | undefined;
}

/**
 * Resolves when a read differs from `base`, when the lock held by someone else expires in our
 * observation (a waiter can take it now), or after maxWaitMs.
 */
export async function pollForChange(
  base: Fingerprint,
  target: PollTarget,
  { clock, maxWaitMs, pollIntervalMs, signal }: { clock: Clock; maxWaitMs: number; pollIntervalMs?: number | undefined; signal?: AbortSignal | undefined },
): Promise<void> {
  const expiredAtStart = expiredForeign(target.observed(), target.identity(), clock);
  const deadline = monotonicNow(clock) + maxWaitMs;
  // Changes come in bursts (a lock taken, first-seed written, members added), and quiet records
  // stay quiet: the interval starts short and doubles while nothing changes, up to the cap, so a
  // decided node costs the API server 2 GETs per cap, not 2 a second. The one change a waiter can
  // predict, the holder's expiry in our observation, gets a poll right when it is due.
  const cap = pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  let poll = Math.min(FIRST_POLL_MS, cap);
  for (;;) {
    const at = monotonicNow(clock);
    const remaining = deadline - at;
    if (remaining <= 0) return;
    const o = target.observed();
    const identity = target.identity();
    const untilExpiry = !expiredAtStart && o !== undefined && o.holder !== '' && o.holder !== identity ? Math.max(0, o.at + o.durationMs - at) : Infinity;
    await sleep(Math.min(poll, remaining, untilExpiry), signal, clock);
    poll = Math.min(poll * 2, cap);
    const now = await target.read(signal);
    if (now.lock !== base.lock || now.members !== base.members) return;
    if (!expiredAtStart && expiredForeign(target.observed(), target.identity(), clock)) return;
  }
}

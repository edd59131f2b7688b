import { sameContactPoint } from '../../src/address.js';
import { backoffDelay, sleep } from '../../src/backoff.js';
import type { Clock } from '../../src/clock.js';
import { DiscoveryError, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';
import type { Leases } from './lease-api.js';
import { annotation, encodeMembers, MEMBERS_ANNOTATION, membersOf, newLease, replaced } from './lease-record.js';

/*
 * Members: Lease `clusterseed-<service>-members`, a JSON array in an annotation, changed by
 * read-modify-PUT (409 → re-read, retry). On Kubernetes the pod is the node's registration, so an
 * entry cannot die with a session: every write drops entries that are not live pods (deps.livePods).
 */

/** Member CAS attempts before giving up (each conflict means another node's write landed). */
const MEMBER_CAS_ATTEMPTS = 30;

export interface MembersDeps {
  clock: Clock;
  logger: Logger;
  /** Running, non-deleting pods as contact points (what provider.resolve answers): members pruning. */
  livePods: (signal?: AbortSignal) => Promise<ContactPoint[]>;
}

/** Applies `change` to the members Lease `name` of `service`, pruned of gone pods but `keep`. */
export async function changeMembers(
  leases: Leases,
  target: { service: string; name: string },
  change: (list: ContactPoint[]) => ContactPoint[],
  keep: ContactPoint | undefined,
  deps: MembersDeps,
  signal?: AbortSignal,
): Promise<void> {
  const { service, name } = target;
  const { logger, clock } = deps;
  // Looked up once: pods that are not live now are not members (the pod is the registration).
  const live = await deps.livePods(signal).catch((err: unknown) => {
    logger.debug({ error: describeError(err) }, 'kubernetes: listing live pods failed; members are written without pruning');
    return undefined;
  });
  for (let attempt = 0; ; attempt++) {
    const lease = await leases.get(name, signal);
    const current = membersOf(lease, name, logger);
    const pruned = live ? current.filter((m) => live.some((p) => sameContactPoint(p, m)) || (keep !== undefined && sameContactPoint(m, keep))) : current;
    const next = change(pruned);
    const text = encodeMembers(next);
    if (text === annotation(lease, MEMBERS_ANNOTATION) || (!lease && next.length === 0)) return;
    if (pruned.length < current.length)
      logger.debug({ lease: name, pruned: current.length - pruned.length }, 'kubernetes: dropping member entries of pods that are gone');
    const res = lease
      ? await leases.call('update', {
          method: 'PUT',
          path: leases.path(name),
          body: replaced(lease, undefined, { [MEMBERS_ANNOTATION]: text }),
          signal,
          accept: [409, 404],
        })
      : await leases.call('create', {
          method: 'POST',
          path: leases.collection(),
          body: newLease(name, leases.namespace, service, {}, { [MEMBERS_ANNOTATION]: text }),
          signal,
          accept: [409],
        });
    if (res.status < 300) return;
    if (attempt + 1 >= MEMBER_CAS_ATTEMPTS) {
      throw new DiscoveryError(`kubernetes: updating Lease ${name} kept conflicting (${MEMBER_CAS_ATTEMPTS} attempts)`, {
        hint: 'many nodes wrote members at once; the strategy retries',
      });
    }
    // Another node's write landed first: re-read and apply ours on top, after a short jittered pause.
    await sleep(backoffDelay(attempt, { initialMs: 20, maxMs: 500 }), signal, clock);
  }
}

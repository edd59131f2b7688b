import { backoffDelay, sleep } from '../../src/backoff.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { AuthError, describeError, ProtocolError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { KubernetesClient } from './client.js';
import { KubernetesStatusError, parseKubeStatus } from './errors.js';
import { listPods } from './pods.js';

/*
 * A watch on the pods of a selector that tells the coordinator of changes at once (DESIGN §3; the
 * DiscoveryProvider.watch contract: runs until the signal aborts and never throws).
 *
 * list (for a resourceVersion) → watch=1&allowWatchBookmarks=true&resourceVersion=<rv>, then:
 * - ADDED / MODIFIED / DELETED: remember the object's resourceVersion and call onChange (events of
 *   one chunk are coalesced into one call, on a microtask);
 * - BOOKMARK: remember its resourceVersion, nothing else (it keeps a quiet watch's RV fresh, so a
 *   re-watch after a server-side timeout does not meet a 410);
 * - ERROR with a 410 Status, or an HTTP 410 (the resourceVersion was compacted): re-list, call
 *   onChange (changes may have been missed), watch from the new list's resourceVersion;
 * - the stream ends (timeoutSeconds, API server restart): re-watch from the last resourceVersion;
 * - any other error (network, 5xx, 401/403, a malformed event): back off (src/backoff.ts, 0.5 s
 *   growing to 30 s) and watch again from the last resourceVersion (it only moves on events we
 *   parsed, so nothing is lost) — logged at warn once per streak (auth errors: every time), then debug.
 * The initial list does not call onChange: the caller resolves on its own at start-up.
 */

/** Server-side watch length: the API server ends the response, we re-watch from the last RV. */
export const WATCH_TIMEOUT_SECONDS = 290;
/** No byte (event or bookmark) for this long: the connection is dead, start again. */
const IDLE_TIMEOUT_MS = (WATCH_TIMEOUT_SECONDS + 30) * 1000;
/** A stream that ends this soon without an event counts as a failure (no hot loop on a bad server). */
const MIN_HEALTHY_STREAM_MS = 1000;

export interface WatchPodsOptions {
  namespace: string;
  labelSelector?: string;
  logger?: Logger;
  clock?: Clock;
  /** Per-request timeout (the list; the watch until its headers) [10 000]. */
  timeoutMs?: number;
  /** [0.5 s growing to 30 s] */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Server-side watch timeout [290 s]. */
  timeoutSeconds?: number;
}

class Relist extends Error {}

export async function watchPods(client: KubernetesClient, options: WatchPodsOptions, onChange: () => void, signal: AbortSignal): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  let resourceVersion: string | undefined;
  let notifyAfterList = false;
  let failures = 0;
  let scheduled = false;

  const notify = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (signal.aborted) return;
      try {
        onChange();
      } catch (err) {
        logger.warn({ err: describeError(err) }, 'kubernetes-api: the watch listener threw');
      }
    });
  };

  while (!signal.aborted) {
    let started = 0;
    let events = 0;
    try {
      if (resourceVersion === undefined) {
        const listing = await listPods(client, {
          namespace: options.namespace,
          labelSelector: options.labelSelector,
          signal,
          timeoutMs: options.timeoutMs,
        });
        resourceVersion = listing.resourceVersion;
        if (notifyAfterList) notify();
        notifyAfterList = false;
      }
      started = performance.now();
      const timeoutSeconds = options.timeoutSeconds ?? WATCH_TIMEOUT_SECONDS;
      await client.stream(
        {
          method: 'GET',
          path,
          query: {
            labelSelector: options.labelSelector || undefined,
            watch: 1,
            allowWatchBookmarks: true,
            resourceVersion,
            timeoutSeconds,
          },
          signal,
          timeoutMs: options.timeoutMs,
          idleTimeoutMs: Math.max(IDLE_TIMEOUT_MS, (timeoutSeconds + 30) * 1000),
          rbac: { verb: 'watch', resource: 'pods', apiGroup: '' },
        },
        (raw) => {
          const event = raw as { type?: unknown; object?: { metadata?: { resourceVersion?: unknown } } };
          const rv = event.object?.metadata?.resourceVersion;
          switch (event.type) {
            case 'ADDED':
            case 'MODIFIED':
            case 'DELETED':
              events++;
              if (typeof rv === 'string' && rv !== '') resourceVersion = rv;
              notify();
              return;
            case 'BOOKMARK':
              events++;
              if (typeof rv === 'string' && rv !== '') resourceVersion = rv;
              return;
            case 'ERROR': {
              const status = parseKubeStatus(event.object);
              if (status?.code === 410) throw new Relist(status.message ?? 'Gone');
              throw new KubernetesStatusError(`kubernetes watch pods: ERROR event: ${status?.message ?? 'no Status'}`, status?.code ?? 500, status?.reason);
            }
            default:
              throw new ProtocolError(`kubernetes watch pods: unexpected event type ${JSON.stringify(event.type)}`);
          }
        },
      );
      // Ended by the server: watch again from the last resourceVersion.
      if (events === 0 && performance.now() - started < MIN_HEALTHY_STREAM_MS) {
        failures++;
        await pause(failures, 'the watch ended at once');
      } else failures = 0;
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof Relist || (err instanceof KubernetesStatusError && err.status === 410)) {
        logger.debug({ namespace: options.namespace }, 'kubernetes-api: watch resourceVersion too old (410); re-listing');
        resourceVersion = undefined;
        notifyAfterList = true;
        // Two 410s in a row without progress would loop: count them as failures.
        if (events === 0) failures++;
        if (failures > 1) await pause(failures, describeError(err));
        continue;
      }
      failures++;
      // resourceVersion only moves on events we parsed, so a re-watch from it replays whatever the
      // broken stream lost; no re-list needed (as client-go's reflector).
      await pause(failures, describeError(err), err instanceof AuthError);
    }
  }

  async function pause(attempt: number, why: string, loud = false): Promise<void> {
    const delay = backoffDelay(attempt - 1, { initialMs: options.backoff?.initialMs ?? 500, maxMs: options.backoff?.maxMs ?? 30_000 });
    const line = { namespace: options.namespace, delayMs: delay, err: why };
    if (attempt === 1 || loud) logger.warn(line, 'kubernetes-api: pod watch failed; retrying (the interval lookups go on)');
    else logger.debug(line, 'kubernetes-api: pod watch failed again; retrying');
    await sleep(delay, signal, clock).catch(() => {});
  }
}

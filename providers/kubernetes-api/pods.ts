import net from 'node:net';
import { z } from 'zod';
import { canonicalize } from '../../src/address.js';
import { withDeadline } from '../../src/signal.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import type { ContactPoint } from '../../src/types.js';
import type { KubernetesClient } from './client.js';
import { KubernetesStatusError } from './errors.js';
import { fieldPath } from '../../src/wire.js';

/*
 * Pods as contact points (DESIGN §3 kubernetes-api).
 *
 * The schema is lenient about fields we do not read (they are dropped) and strict about the ones we
 * use: a podIP that is not an IP, a containerPort outside 1-65535, a missing name are ProtocolErrors
 * naming the field (and the pod), never a wrong contact point.
 *
 * Which pods count (podsToContactPoints):
 * - status.phase Running, no metadata.deletionTimestamp (a pod being deleted is leaving), a podIP;
 * - containerName: a pod whose container of that name is `waiting` (crash loop, image pull) is
 *   skipped. A pod with NO status for that container counts — as in Pekko's method: the phase is
 *   already Running, statuses can lag the phase briefly, and a typo in containerName must not hide
 *   every pod silently (it is logged at debug);
 * - readyOnly: only pods whose Ready condition is True (off by default: a pod becomes ready only
 *   after it joined, see docs/providers/kubernetes-api.md);
 * - portName: the port is that of the first container port with that name, searching every
 *   container in spec order (as Pekko does). A pod without such a port is skipped (logged at debug):
 *   without its port it cannot be a peer's contact point, and Pekko skips it too.
 * host is the pod IP; meta holds pod, namespace and node names only (never secrets).
 */

export const DEFAULT_PAGE_SIZE = 500;

const podIp = z
  .string()
  .refine((v) => v === '' || net.isIP(v) !== 0, { error: (iss) => `not an IP address: ${JSON.stringify(String(iss.input).slice(0, 60))}` });

const ContainerPort = z.object({
  name: z.string().nullish(),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.string().nullish(),
});

export const Pod = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().nullish(),
    deletionTimestamp: z.string().nullish(),
    resourceVersion: z.string().nullish(),
  }),
  spec: z
    .object({
      nodeName: z.string().nullish(),
      containers: z.array(z.object({ name: z.string(), ports: z.array(ContainerPort).nullish() })).nullish(),
    })
    .nullish(),
  status: z
    .object({
      phase: z.string().nullish(),
      // "" is what an unset field may serialise to from old clients; treat it as absent.
      podIP: podIp.nullish(),
      conditions: z.array(z.object({ type: z.string(), status: z.string() })).nullish(),
      containerStatuses: z
        .array(
          z.object({
            name: z.string(),
            state: z.object({ waiting: z.unknown().optional(), running: z.unknown().optional(), terminated: z.unknown().optional() }).nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
});
export type Pod = z.output<typeof Pod>;

export const PodList = z.object({
  metadata: z.object({
    resourceVersion: z.string().min(1),
    continue: z.string().nullish(),
    remainingItemCount: z.number().nullish(),
  }),
  items: z.array(Pod).nullish(),
});

export interface ListPodsOptions {
  namespace: string;
  labelSelector?: string;
  signal?: AbortSignal;
  /** The whole list, every page included [10 000]. */
  timeoutMs?: number;
  /** [500] */
  pageSize?: number;
}

export interface PodListing {
  pods: Pod[];
  /** The list's resourceVersion: a watch from it misses nothing. */
  resourceVersion: string;
  /** Requests it took (pages, restarts included). */
  requests: number;
}

/**
 * Every pod matching the selector, following limit/continue. A paged list is one consistent snapshot
 * (the API server serves every page at the first page's resourceVersion); when a continue token has
 * expired (410, etcd compacted past it) the list restarts from scratch once — a second 410 is thrown.
 */
export async function listPods(client: KubernetesClient, options: ListPodsOptions): Promise<PodListing> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  const deadline = withDeadline(`kubernetes list pods in namespace "${options.namespace}"`, timeoutMs, options.signal);
  const endsAt = performance.now() + timeoutMs;
  let requests = 0;
  try {
    for (let restarts = 0; ; restarts++) {
      const pods: Pod[] = [];
      let token: string | undefined;
      try {
        for (;;) {
          requests++;
          const call = {
            method: 'GET' as const,
            path,
            query: { labelSelector: options.labelSelector || undefined, limit: options.pageSize ?? DEFAULT_PAGE_SIZE, continue: token },
            signal: deadline.signal,
            timeoutMs: Math.max(1, Math.round(endsAt - performance.now())),
            rbac: { verb: 'list', resource: 'pods', apiGroup: '' },
          };
          const { body } = await client.request(call);
          const page = parsePodList(body, `kubernetes GET ${path}`);
          for (const p of page.items ?? []) pods.push(p);
          token = page.metadata.continue || undefined;
          if (token === undefined) return { pods, resourceVersion: page.metadata.resourceVersion, requests };
        }
      } catch (err) {
        if (err instanceof KubernetesStatusError && err.status === 400 && options.labelSelector) {
          // The API server parses the selector (kubectl's -l syntax); its 400 names what is wrong.
          throw new ConfigError(
            `discovery.labelSelector: the API server rejected ${JSON.stringify(options.labelSelector)}: ` +
              `${err.message.replace(/^.*?HTTP 400( BadRequest)?: /, '')}`,
            {
              cause: err,
              hint: 'use kubectl -l syntax: app=orders, tier!=canary, env in (prod,staging), !legacy (without discovery.labelSelector it is app=<service>)',
            },
          );
        }
        const expired = err instanceof KubernetesStatusError && err.status === 410 && token !== undefined;
        if (!expired || restarts >= 1) throw err;
      }
    }
  } finally {
    deadline.dispose();
  }
}

/** A PodList body; a field we use with the wrong shape is a ProtocolError naming it and the pod. */
export function parsePodList(body: unknown, what: string): z.output<typeof PodList> {
  const parsed = PodList.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  let pod = '';
  if (issue.path[0] === 'items' && typeof issue.path[1] === 'number') {
    const name = (body as { items?: { metadata?: { name?: unknown } }[] }).items?.[issue.path[1]]?.metadata?.name;
    if (typeof name === 'string') pod = ` (pod ${JSON.stringify(name.slice(0, 80))})`;
  }
  throw new ProtocolError(`${what}: unexpected response: ${fieldPath(issue.path)}${pod}: ${issue.message}`, {
    hint: 'the API server answered with a PodList in an unexpected format; check that discovery.apiServer is a Kubernetes API server',
  });
}

export interface ContactPointOptions {
  portName?: string;
  containerName?: string;
  readyOnly?: boolean;
  logger?: Logger;
}

/** The pods that count, as contact points in canonical order (rules at the top of this file). */
export function podsToContactPoints(pods: readonly Pod[], options: ContactPointOptions = {}): ContactPoint[] {
  const logger = options.logger ?? silentLogger;
  const points: ContactPoint[] = [];
  for (const pod of pods) {
    const name = pod.metadata.name;
    const ip = pod.status?.podIP;
    if (pod.status?.phase !== 'Running' || pod.metadata.deletionTimestamp || !ip) continue;
    if (options.containerName !== undefined) {
      const status = pod.status.containerStatuses?.find((s) => s.name === options.containerName);
      if (status?.state?.waiting !== undefined && status.state.waiting !== null) continue;
      if (status === undefined) logger.debug({ pod: name, container: options.containerName }, 'kubernetes-api: pod has no status for containerName; counted');
    }
    if (options.readyOnly && pod.status.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') continue;
    let port: number | undefined;
    if (options.portName !== undefined) {
      port = findPort(pod, options.portName);
      if (port === undefined) {
        logger.debug({ pod: name, portName: options.portName }, 'kubernetes-api: pod has no container port with portName; skipped');
        continue;
      }
    }
    const meta: Record<string, string> = { pod: name };
    if (pod.metadata.namespace) meta.namespace = pod.metadata.namespace;
    if (pod.spec?.nodeName) meta.node = pod.spec.nodeName;
    points.push(port === undefined ? { host: ip, meta } : { host: ip, port, meta });
  }
  return canonicalize(points);
}

function findPort(pod: Pod, portName: string): number | undefined {
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === portName) return p.containerPort;
  }
  return undefined;
}

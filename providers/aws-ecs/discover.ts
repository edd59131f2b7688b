import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand, DescribeTasksCommand, ListTasksCommand, type ECSClient, type Failure, type Task } from '@aws-sdk/client-ecs';
import net from 'node:net';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';
import { addressOfTask, type AddressOptions, type TaskAddress } from './tasks.js';

/*
 * The I/O of ECS discovery: ListTasks pages → DescribeTasks batches (pipelined: a page is described
 * while the next one is listed, at most `concurrency` batches in flight; the next page is requested
 * before the current page's batch, since the sequential pages are the critical path) → for bridge/host tasks,
 * DescribeContainerInstances → EC2 DescribeInstances for the hosts' private IPs (cached: a container
 * instance never changes its EC2 instance).
 *
 * API calls per resolve (no throttling retries):
 *   ⌈T/100⌉ ListTasks (at least 1) + ⌈T/100⌉ DescribeTasks
 *   + bridge/host only, for container instances not cached yet (N new):
 *     ⌈N/100⌉ DescribeContainerInstances + ⌈N/100⌉ EC2 DescribeInstances.
 */

/** ECS limits: ListTasks maxResults ≤ 100, DescribeTasks ≤ 100 tasks, DescribeContainerInstances ≤ 100. */
export const ECS_BATCH = 100;
/** Instance ids per EC2 DescribeInstances call (kept small so the GET/POST stays short). */
export const EC2_BATCH = 100;

/** Sends one SDK command with the call's AbortSignal, mapping errors and retrying throttling. */
export type CallAws = <T>(service: 'ecs' | 'ec2', action: string, send: (abortSignal: AbortSignal) => Promise<T>) => Promise<T>;

export interface HostInfo {
  ip: string;
  instanceId: string;
}

export interface TaskQuery {
  cluster: string;
  serviceName?: string;
  startedBy?: string;
}

export interface DiscoverDeps {
  ecs: ECSClient;
  /** Created on first use: awsvpc-only lookups never create an EC2 client. */
  ec2: () => EC2Client;
  call: CallAws;
  logger: Logger;
  /** container instance ARN → host, shared across resolves of one provider. */
  hostCache: Map<string, HostInfo>;
  /** DescribeTasks / DescribeContainerInstances / DescribeInstances batches in flight at once [4]. */
  concurrency?: number;
}

/** A promise pool: runs at most `n` jobs at once, in submission order. */
export function limiter(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= n) return;
    const job = queue.shift();
    if (job) job();
  };
  return <T>(fn: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push(() => {
        active++;
        fn()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Every task of the query with its address (or why it has none). */
export async function describeAllTasks(query: TaskQuery, options: AddressOptions, deps: DiscoverDeps): Promise<TaskAddress[]> {
  const run = limiter(deps.concurrency ?? 4);
  const include = options.tags.length > 0 ? (['TAGS'] as const) : undefined;
  const batches: Promise<TaskAddress[]>[] = [];
  const listPage = (token: string | undefined) =>
    deps.call('ecs', 'ListTasks', (abortSignal) =>
      deps.ecs.send(
        new ListTasksCommand({
          cluster: query.cluster,
          desiredStatus: 'RUNNING',
          maxResults: ECS_BATCH,
          ...(query.serviceName !== undefined ? { serviceName: query.serviceName } : {}),
          ...(query.startedBy !== undefined ? { startedBy: query.startedBy } : {}),
          ...(token !== undefined ? { nextToken: token } : {}),
        }),
        { abortSignal },
      ),
    );
  let page = 0;
  // A failed batch fails the lookup: stop listing instead of spending more calls.
  let batchError: unknown;
  const seenTokens = new Set<string>();
  let pending: ReturnType<typeof listPage> | undefined = listPage(undefined);
  while (pending !== undefined) {
    const listed = await pending;
    pending = undefined;
    const arns = listed.taskArns ?? [];
    if (!Array.isArray(arns) || arns.some((a) => typeof a !== 'string')) {
      throw new ProtocolError(`ListTasks: taskArns of page ${page + 1} is not a list of ARNs`, {
        hint: 'the ECS endpoint answered something that is not the ECS API',
      });
    }
    const nextToken = listed.nextToken || undefined;
    page++;
    if (nextToken !== undefined) {
      if (seenTokens.has(nextToken)) {
        throw new ProtocolError(`ListTasks: nextToken repeats on page ${page}; the listing would never end`, {
          hint: 'the ECS endpoint answered something that is not the ECS API',
        });
      }
      seenTokens.add(nextToken);
      // The pages are the critical path: ask for the next one before describing this one, so that
      // its request is on the wire (and first in the endpoint's queue) ahead of this page's batch.
      if (batchError === undefined) {
        pending = listPage(nextToken);
        // Awaited at the top of the loop; this only keeps a rejection that arrives while this
        // page's batches are being started from being reported as unhandled.
        pending.catch(() => {});
      }
    }
    // Started on the next turn of the event loop, once the next page's request is written out
    // (setImmediate callbacks run first in, first out: batches still go out in page order).
    const listSent = new Promise<void>((resolve) => setImmediate(resolve));
    for (const batch of chunks(arns, ECS_BATCH)) {
      const batchIndex = batches.length;
      const described = listSent
        .then(() =>
          run(() =>
            deps.call('ecs', 'DescribeTasks', (abortSignal) =>
              deps.ecs.send(new DescribeTasksCommand({ cluster: query.cluster, tasks: batch, ...(include ? { include: [...include] } : {}) }), { abortSignal }),
            ),
          ),
        )
        .then((out) => {
          reportFailures(out.failures, deps.logger);
          return (out.tasks ?? []).map((t: Task, i) => addressOfTask(t, options, `batch ${batchIndex + 1} tasks[${i}]`));
        });
      // Also keeps a rejected batch from being reported as unhandled while ListTasks is still paging.
      described.catch((err: unknown) => {
        batchError ??= err;
      });
      batches.push(described);
    }
  }
  return (await Promise.all(batches)).flat();
}

function reportFailures(failures: Failure[] | undefined, logger: Logger): void {
  for (const f of failures ?? []) {
    // MISSING: the task stopped between ListTasks and DescribeTasks; nothing to report.
    if (f.reason === 'MISSING') logger.debug({ arn: f.arn }, 'ECS task vanished between ListTasks and DescribeTasks');
    else logger.warn({ arn: f.arn, reason: f.reason, detail: f.detail }, 'ECS DescribeTasks reported a failure for a task');
  }
}

/** EC2 hosts of container instances, from the cache or DescribeContainerInstances + DescribeInstances. */
export async function resolveHosts(cluster: string, arns: readonly string[], deps: DiscoverDeps): Promise<Map<string, HostInfo>> {
  const run = limiter(deps.concurrency ?? 4);
  const missing = [...new Set(arns)].filter((a) => !deps.hostCache.has(a));
  const instanceOf = new Map<string, string>(); // container instance ARN → EC2 instance id
  await Promise.all(
    chunks(missing, ECS_BATCH).map((batch) =>
      run(async () => {
        const out = await deps.call('ecs', 'DescribeContainerInstances', (abortSignal) =>
          deps.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: batch }), { abortSignal }),
        );
        for (const [i, ci] of (out.containerInstances ?? []).entries()) {
          if (!ci.containerInstanceArn || !ci.ec2InstanceId) {
            throw new ProtocolError(
              `DescribeContainerInstances: containerInstances[${i}] lacks ${ci.containerInstanceArn ? 'ec2InstanceId' : 'containerInstanceArn'}`,
              {
                hint: 'the ECS endpoint answered something that is not the ECS API',
              },
            );
          }
          instanceOf.set(ci.containerInstanceArn, ci.ec2InstanceId);
        }
        for (const f of out.failures ?? [])
          deps.logger.warn({ arn: f.arn, reason: f.reason }, 'ECS container instance could not be described; its tasks are skipped');
      }),
    ),
  );
  const ipOf = new Map<string, string>(); // EC2 instance id → private IPv4
  await Promise.all(
    chunks([...new Set(instanceOf.values())], EC2_BATCH).map((batch) =>
      run(async () => {
        const out = await deps.call('ec2', 'DescribeInstances', (abortSignal) =>
          deps.ec2().send(new DescribeInstancesCommand({ InstanceIds: batch }), { abortSignal }),
        );
        for (const [r, reservation] of (out.Reservations ?? []).entries()) {
          for (const [i, inst] of (reservation.Instances ?? []).entries()) {
            if (!inst.InstanceId) continue;
            const ip = inst.PrivateIpAddress;
            if (ip === undefined) continue; // terminated host: its tasks are skipped below
            if (!net.isIPv4(ip)) {
              throw new ProtocolError(`DescribeInstances: Reservations[${r}].Instances[${i}].PrivateIpAddress is not an IPv4 address: ${JSON.stringify(ip)}`, {
                hint: 'the EC2 endpoint answered something that is not the EC2 API',
              });
            }
            ipOf.set(inst.InstanceId, ip);
          }
        }
      }),
    ),
  );
  for (const [arn, instanceId] of instanceOf) {
    const ip = ipOf.get(instanceId);
    if (ip !== undefined) deps.hostCache.set(arn, { ip, instanceId });
  }
  const out = new Map<string, HostInfo>();
  for (const a of arns) {
    const h = deps.hostCache.get(a);
    if (h) out.set(a, h);
  }
  return out;
}

/** Contact points of every RUNNING task of the query that has an address. */
export async function discoverTasks(query: TaskQuery, options: AddressOptions, deps: DiscoverDeps): Promise<ContactPoint[]> {
  const addresses = await describeAllTasks(query, options, deps);
  const onHosts = addresses.filter((a): a is Extract<TaskAddress, { kind: 'host' }> => a.kind === 'host');
  const hosts = onHosts.length
    ? await resolveHosts(
        query.cluster,
        onHosts.map((a) => a.containerInstanceArn),
        deps,
      )
    : new Map<string, HostInfo>();
  const points: ContactPoint[] = [];
  const misconfigured: string[] = [];
  const skipped: string[] = [];
  for (const a of addresses) {
    if (a.kind === 'eni') points.push({ host: a.host, ...(a.port !== undefined ? { port: a.port } : {}), meta: a.meta });
    else if (a.kind === 'host') {
      const h = hosts.get(a.containerInstanceArn);
      if (!h) {
        deps.logger.warn(
          { taskArn: a.meta.taskArn, containerInstanceArn: a.containerInstanceArn },
          'ECS task skipped: its container instance has no EC2 private IP',
        );
        continue;
      }
      points.push({ host: h.ip, ...(a.port !== undefined ? { port: a.port } : {}), meta: { ...a.meta, instanceId: h.instanceId } });
    } else if (a.misconfigured) {
      misconfigured.push(a.reason);
    } else {
      skipped.push(a.reason);
    }
  }
  // One line, not one per task: services have thousands of tasks and lookups run every second.
  if (skipped.length > 0) deps.logger.debug({ count: skipped.length, examples: skipped.slice(0, 3) }, 'ECS tasks that are not contact points');
  if (misconfigured.length > 0) {
    // Nothing usable because of the options: an empty answer would hide the mistake.
    if (points.length === 0) {
      throw new ConfigError(`discovery: ${misconfigured.length} running ECS task(s) could not be used: ${misconfigured[0]}`, {
        hint: 'check networkMode, containerPort and containerName against the task definition',
      });
    }
    deps.logger.warn(
      { count: misconfigured.length, example: misconfigured[0] },
      'some running ECS tasks were skipped (options do not match their task definition)',
    );
  }
  return points;
}

import net from 'node:net';
import type { Container, Task } from '@aws-sdk/client-ecs';
import { ProtocolError } from '../../src/errors.js';

/*
 * Pure logic: where a task described by DescribeTasks can be reached. No I/O here; the bridge/host
 * case names the container instance whose EC2 private IP the caller looks up.
 */

export type NetworkMode = 'auto' | 'awsvpc' | 'bridge' | 'host';

export interface AddressOptions {
  networkMode: NetworkMode;
  containerName?: string | undefined;
  containerPort?: number | undefined;
  /** Every tag a task must carry (empty: no filter). */
  tags: readonly { key: string; value: string }[];
}

export type TaskAddress =
  /** awsvpc: the task's own ENI address. */
  | { kind: 'eni'; host: string; port?: number; meta: Record<string, string> }
  /** bridge/host: a port on the container instance's EC2 host. */
  | { kind: 'host'; containerInstanceArn: string; port?: number; meta: Record<string, string> }
  /** Not a contact point; `reason` is logged. `misconfigured` marks reasons the options can fix. */
  | { kind: 'skip'; reason: string; misconfigured?: boolean };

/** `tasks[3]` style location of a task in one DescribeTasks answer, for error messages. */
export type FieldPath = string;

export function hasAllTags(task: Task, tags: AddressOptions['tags']): boolean {
  return tags.every((want) => (task.tags ?? []).some((t) => t.key === want.key && t.value === want.value));
}

/** The task's ENI IPv4, from the attachment details or (older responses) the containers' interfaces. */
export function eniAddress(task: Task, path: FieldPath): string | undefined {
  const attachments = task.attachments ?? [];
  for (const [i, a] of attachments.entries()) {
    if (a.type !== 'ElasticNetworkInterface') continue;
    const detail = (a.details ?? []).find((d) => d.name === 'privateIPv4Address');
    if (detail?.value === undefined) continue;
    if (!net.isIPv4(detail.value)) {
      throw new ProtocolError(`DescribeTasks: ${path}.attachments[${i}].details.privateIPv4Address is not an IPv4 address: ${JSON.stringify(detail.value)}`, {
        hint: 'the ECS endpoint answered something that is not the ECS API',
      });
    }
    return detail.value;
  }
  for (const [i, c] of (task.containers ?? []).entries()) {
    for (const [j, ni] of (c.networkInterfaces ?? []).entries()) {
      if (ni.privateIpv4Address === undefined) continue;
      if (!net.isIPv4(ni.privateIpv4Address)) {
        throw new ProtocolError(
          `DescribeTasks: ${path}.containers[${i}].networkInterfaces[${j}].privateIpv4Address is not an IPv4 address: ${JSON.stringify(ni.privateIpv4Address)}`,
          {
            hint: 'the ECS endpoint answered something that is not the ECS API',
          },
        );
      }
      return ni.privateIpv4Address;
    }
  }
  return undefined;
}

/** awsvpc tasks carry an ENI attachment (or container network interfaces); bridge/host tasks do not. */
function looksAwsvpc(task: Task): boolean {
  return (
    (task.attachments ?? []).some((a) => a.type === 'ElasticNetworkInterface') || (task.containers ?? []).some((c) => (c.networkInterfaces ?? []).length > 0)
  );
}

/**
 * The container whose port is reported: the one named `containerName`, or else the only container
 * with a binding for `containerPort` (sidecars without it are ignored).
 */
function pickContainer(task: Task, options: AddressOptions, taskId: string): { container: Container } | { skip: TaskAddress } {
  const containers = task.containers ?? [];
  if (options.containerName !== undefined) {
    const named = containers.find((c) => c.name === options.containerName);
    if (!named) {
      return {
        skip: {
          kind: 'skip',
          misconfigured: true,
          reason: `task ${taskId} has no container named "${options.containerName}" (it has ${containers.map((c) => `"${c.name}"`).join(', ') || 'none'})`,
        },
      };
    }
    return { container: named };
  }
  const exposing = containers.filter((c) => (c.networkBindings ?? []).some((b) => b.containerPort === options.containerPort));
  if (exposing.length === 1) return { container: exposing[0]! };
  if (exposing.length === 0) {
    // RUNNING tasks have their bindings: a port no container maps is a mismatch with the task definition.
    return {
      skip: {
        kind: 'skip',
        misconfigured: true,
        reason: `no container of task ${taskId} maps container port ${options.containerPort} (mapped: ${mappedPorts(containers)})`,
      },
    };
  }
  return {
    skip: {
      kind: 'skip',
      misconfigured: true,
      reason: `task ${taskId}: several containers expose port ${options.containerPort} (${exposing.map((c) => `"${c.name}"`).join(', ')}); set containerName`,
    },
  };
}

function mappedPorts(containers: Container[]): string {
  const ports = containers.flatMap((c) => (c.networkBindings ?? []).map((b) => `${c.name}:${b.containerPort}`));
  return ports.length ? [...new Set(ports)].join(', ') : 'none';
}

/** The host port bound to `containerPort` (IPv4 binding preferred when the agent reports v4 and v6). */
function hostPortOf(container: Container, containerPort: number, path: FieldPath): number | undefined {
  const bindings = (container.networkBindings ?? [])
    .map((b, i) => ({ b, i }))
    .filter(({ b }) => b.containerPort === containerPort && (b.protocol === undefined || b.protocol === 'tcp'));
  bindings.sort((x, y) => Number(net.isIPv6(x.b.bindIP ?? '')) - Number(net.isIPv6(y.b.bindIP ?? '')));
  const first = bindings[0];
  if (!first) return undefined;
  const port = first.b.hostPort;
  if (port === undefined) return undefined;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ProtocolError(`DescribeTasks: ${path}.networkBindings[${first.i}].hostPort is not a port: ${JSON.stringify(port)}`, {
      hint: 'the ECS endpoint answered something that is not the ECS API',
    });
  }
  return port;
}

/** Where one RUNNING task can be reached, or why it is not a contact point. */
export function addressOfTask(task: Task, options: AddressOptions, path: FieldPath): TaskAddress {
  if (typeof task.taskArn !== 'string' || task.taskArn === '') {
    throw new ProtocolError(`DescribeTasks: ${path}.taskArn is missing`, { hint: 'the ECS endpoint answered something that is not the ECS API' });
  }
  const taskId = task.taskArn.slice(task.taskArn.lastIndexOf('/') + 1);
  if (task.lastStatus !== 'RUNNING') return { kind: 'skip', reason: `task ${taskId} is ${task.lastStatus ?? 'in an unknown state'}, not RUNNING` };
  if (!hasAllTags(task, options.tags)) return { kind: 'skip', reason: `task ${taskId} lacks the required tags` };

  const meta: Record<string, string> = { taskArn: task.taskArn };
  if (task.availabilityZone) meta.az = task.availabilityZone;
  if (task.launchType) meta.launchType = task.launchType;

  const mode = options.networkMode === 'auto' ? (looksAwsvpc(task) ? 'awsvpc' : 'bridge') : options.networkMode;
  if (mode === 'awsvpc') {
    const host = eniAddress(task, path);
    if (host === undefined) return { kind: 'skip', reason: `task ${taskId} has no ENI private IPv4 address (yet)` };
    meta.networkMode = 'awsvpc';
    // In awsvpc mode a container port is reachable as-is on the task's own address.
    return { kind: 'eni', host, ...(options.containerPort !== undefined ? { port: options.containerPort } : {}), meta };
  }

  const ci = task.containerInstanceArn;
  if (!ci) return { kind: 'skip', reason: `task ${taskId} runs on no container instance (Fargate tasks use awsvpc networking)` };
  meta.networkMode = mode;
  meta.containerInstanceArn = ci;
  if (options.containerPort === undefined) {
    if (mode === 'host') return { kind: 'host', containerInstanceArn: ci, meta };
    return {
      kind: 'skip',
      misconfigured: true,
      reason:
        `task ${taskId} uses bridge networking, whose host ports are assigned per task: ` +
        `set containerPort (and containerName if several containers expose it)`,
    };
  }
  const picked = pickContainer(task, options, taskId);
  if ('skip' in picked) return picked.skip;
  const containerIndex = (task.containers ?? []).indexOf(picked.container);
  if (!(picked.container.networkBindings ?? []).some((b) => b.containerPort === options.containerPort)) {
    return {
      kind: 'skip',
      misconfigured: true,
      reason:
        `container "${picked.container.name}" of task ${taskId} maps no container port ${options.containerPort} ` +
        `(mapped: ${mappedPorts([picked.container])})`,
    };
  }
  const port = hostPortOf(picked.container, options.containerPort, `${path}.containers[${containerIndex}]`);
  if (port === undefined) {
    return { kind: 'skip', reason: `task ${taskId}: container "${picked.container.name}" has no host port bound to ${options.containerPort} (yet)` };
  }
  if (picked.container.name) meta.container = picked.container.name;
  return { kind: 'host', containerInstanceArn: ci, port, meta };
}

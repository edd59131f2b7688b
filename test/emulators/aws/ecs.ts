/*
 * ECS JSON 1.1 emulator (POST /, `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>`,
 * `Content-Type: application/x-amz-json-1.1`): ListTasks, DescribeTasks, DescribeContainerInstances,
 * with the real service's limits and errors (checked against the ECS API reference):
 * - ListTasks: maxResults 1–100 (default 100), opaque nextToken, desiredStatus [RUNNING],
 *   ClusterNotFoundException / ServiceNotFoundException;
 * - DescribeTasks: at most 100 tasks ("taskIds can have at most 100 items."), unknown ids come back in
 *   `failures[]` with reason MISSING, tags only with `include: ["TAGS"]`;
 * - DescribeContainerInstances: at most 100 ("instanceIds can have at most 100 items.");
 * - errors: HTTP 400 (500 for ServerException) with `{"__type","message"}` and `x-amzn-ErrorType`.
 * Timestamps are epoch seconds, as awsJson1_1 sends them.
 */
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from './server.js';

const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

export interface EcsTag {
  key: string;
  value: string;
}
export interface EcsNetworkBinding {
  bindIP?: string;
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
}
export interface EcsContainer {
  name: string;
  containerArn?: string;
  lastStatus?: string;
  networkBindings?: EcsNetworkBinding[];
  networkInterfaces?: { attachmentId?: string; privateIpv4Address?: string; ipv6Address?: string }[];
}
export interface EcsAttachment {
  id: string;
  type: string;
  status: string;
  details: { name: string; value: string }[];
}
/** A task as DescribeTasks returns it (the fields clusterseed reads, plus a few for realism). */
export interface EcsTask {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  lastStatus: string;
  desiredStatus: string;
  launchType: 'EC2' | 'FARGATE';
  availabilityZone: string;
  group: string;
  startedBy?: string;
  containerInstanceArn?: string;
  attachments?: EcsAttachment[];
  containers: EcsContainer[];
  tags?: EcsTag[];
  createdAt: number;
  startedAt?: number;
}
export interface EcsContainerInstance {
  containerInstanceArn: string;
  ec2InstanceId: string;
  status: string;
  agentConnected: boolean;
}

interface Cluster {
  name: string;
  arn: string;
  services: Set<string>;
  tasks: EcsTask[];
  /** taskArn and task id → task (DescribeTasks lookups stay O(1) with thousands of tasks). */
  byRef: Map<string, EcsTask>;
  containerInstances: EcsContainerInstance[];
}

export const clusterArn = (name: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${name}`;
export const taskArn = (cluster: string, id: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:task/${cluster}/${id}`;
export const containerInstanceArn = (cluster: string, id: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:container-instance/${cluster}/${id}`;

let idCounter = 0;
/** 32 hex digits, like real task ids; deterministic per process. */
export function nextId(): string {
  idCounter += 1;
  return idCounter.toString(16).padStart(32, '0');
}

export interface AwsvpcTaskInit {
  cluster: string;
  service?: string;
  startedBy?: string;
  ip: string;
  tags?: EcsTag[];
  lastStatus?: string;
  desiredStatus?: string;
  /** Put the address in containers[].networkInterfaces only (no ENI attachment details). */
  addressInContainersOnly?: boolean;
  launchType?: 'EC2' | 'FARGATE';
}

export interface BridgeTaskInit {
  cluster: string;
  service?: string;
  startedBy?: string;
  containerInstanceArn: string;
  /** Containers with their (containerPort → hostPort) bindings; sidecars included. */
  containers: { name: string; bindings: { containerPort: number; hostPort: number; bindIP?: string }[] }[];
  tags?: EcsTag[];
  lastStatus?: string;
}

export class EcsState {
  readonly clusters = new Map<string, Cluster>();

  cluster(name: string): Cluster {
    let c = this.clusters.get(name);
    if (!c) {
      c = { name, arn: clusterArn(name), services: new Set(), tasks: [], byRef: new Map(), containerInstances: [] };
      this.clusters.set(name, c);
    }
    return c;
  }

  addService(cluster: string, service: string): void {
    this.cluster(cluster).services.add(service);
  }

  addAwsvpcTask(init: AwsvpcTaskInit): EcsTask {
    const c = this.cluster(init.cluster);
    if (init.service) c.services.add(init.service);
    const id = nextId();
    const arn = taskArn(init.cluster, id);
    const eni = `eni-${id.slice(-17)}`;
    const attachmentId = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
    const task: EcsTask = {
      ...common(c, arn, init.service, init.startedBy, init.lastStatus, init.desiredStatus, init.tags),
      launchType: init.launchType ?? 'FARGATE',
      attachments: init.addressInContainersOnly
        ? []
        : [
            {
              id: attachmentId,
              type: 'ElasticNetworkInterface',
              status: 'ATTACHED',
              details: [
                { name: 'subnetId', value: 'subnet-0123456789abcdef0' },
                { name: 'networkInterfaceId', value: eni },
                { name: 'macAddress', value: '0a:1b:2c:3d:4e:5f' },
                { name: 'privateDnsName', value: `ip-${init.ip.replaceAll('.', '-')}.ec2.internal` },
                { name: 'privateIPv4Address', value: init.ip },
              ],
            },
          ],
      containers: [
        {
          name: 'app',
          containerArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container/${init.cluster}/${id}/${nextId()}`,
          lastStatus: init.lastStatus ?? 'RUNNING',
          networkBindings: [],
          networkInterfaces: [{ attachmentId, privateIpv4Address: init.ip }],
        },
      ],
    };
    push(c, task);
    return task;
  }

  addContainerInstance(cluster: string, ec2InstanceId: string): EcsContainerInstance {
    const ci: EcsContainerInstance = { containerInstanceArn: containerInstanceArn(cluster, nextId()), ec2InstanceId, status: 'ACTIVE', agentConnected: true };
    this.cluster(cluster).containerInstances.push(ci);
    return ci;
  }

  addBridgeTask(init: BridgeTaskInit): EcsTask {
    const c = this.cluster(init.cluster);
    if (init.service) c.services.add(init.service);
    const id = nextId();
    const arn = taskArn(init.cluster, id);
    const task: EcsTask = {
      ...common(c, arn, init.service, init.startedBy, init.lastStatus, undefined, init.tags),
      launchType: 'EC2',
      containerInstanceArn: init.containerInstanceArn,
      attachments: [],
      containers: init.containers.map((k) => ({
        name: k.name,
        containerArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container/${init.cluster}/${id}/${nextId()}`,
        lastStatus: init.lastStatus ?? 'RUNNING',
        networkBindings: k.bindings.map((b) => ({ bindIP: b.bindIP ?? '0.0.0.0', containerPort: b.containerPort, hostPort: b.hostPort, protocol: 'tcp' })),
        networkInterfaces: [],
      })),
    };
    push(c, task);
    return task;
  }

  /** Finds a task by ARN or id in any cluster. */
  findTask(ref: string): EcsTask | undefined {
    for (const c of this.clusters.values()) {
      const t = c.byRef.get(ref);
      if (t) return t;
    }
    return undefined;
  }
}

function push(c: Cluster, task: EcsTask): void {
  c.tasks.push(task);
  c.byRef.set(task.taskArn, task);
  c.byRef.set(task.taskArn.slice(task.taskArn.lastIndexOf('/') + 1), task);
}

function common(
  c: Cluster,
  arn: string,
  service: string | undefined,
  startedBy: string | undefined,
  lastStatus = 'RUNNING',
  desiredStatus = 'RUNNING',
  tags?: EcsTag[],
) {
  const now = Date.now() / 1000;
  return {
    taskArn: arn,
    clusterArn: c.arn,
    taskDefinitionArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${service ?? 'standalone'}:7`,
    lastStatus,
    desiredStatus,
    availabilityZone: ['us-east-1a', 'us-east-1b', 'us-east-1c'][c.tasks.length % 3]!,
    group: service ? `service:${service}` : 'family:standalone',
    // A service's tasks are started by its deployment / task set ("ecs-svc/<19 digits>").
    ...(startedBy !== undefined ? { startedBy } : service !== undefined ? { startedBy: serviceDeploymentId(service) } : {}),
    tags: tags ?? [],
    createdAt: now,
    ...(lastStatus === 'RUNNING' ? { startedAt: now } : {}),
  };
}

/** The id ECS gives a service's primary deployment, stable per service name here. */
export function serviceDeploymentId(service: string): string {
  let h = 7;
  for (const ch of service) h = (h * 31 + ch.charCodeAt(0)) % 1e9;
  return `ecs-svc/${String(h).padStart(9, '0')}1234567890`;
}

/** The error shape the real service sends (awsJson1_1). */
export function ecsError(type: string, message: string, status = 400, requestId = 'emulator'): EmulatorResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': `${type}:`, 'x-amzn-requestid': requestId },
    body: JSON.stringify({ __type: type, message }),
  };
}

function ok(body: unknown, req: EmulatorRequest): EmulatorResponse {
  return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': req.requestId }, body: JSON.stringify(body) };
}

export class EcsHandler implements EmulatorHandler {
  readonly name = 'ecs';
  /** Every DescribeTasks batch size received, for batching assertions. */
  readonly describeBatchSizes: number[] = [];

  constructor(readonly state: EcsState = new EcsState()) {}

  match(req: EmulatorRequest): string | undefined {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) return undefined;
    return `ecs:${target.slice(TARGET_PREFIX.length)}`;
  }

  fault(kind: 'throttle' | 'error500' | 'malformed', req: EmulatorRequest): EmulatorResponse {
    if (kind === 'throttle') return ecsError('ThrottlingException', 'Rate exceeded', 400, req.requestId);
    if (kind === 'error500') return ecsError('ServerException', 'Service Unavailable. Please try again later.', 500, req.requestId);
    return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: '{"taskArns": ["arn:aws:ecs:us-east-1:1' };
  }

  handle(req: EmulatorRequest, action: string): EmulatorResponse {
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
      return ecsError('MissingAuthenticationTokenException', 'Missing Authentication Token', 400, req.requestId);
    }
    const contentType = req.headers['content-type'] ?? '';
    if (!contentType.startsWith('application/x-amz-json-1.1')) {
      return ecsError('SerializationException', `unexpected content type ${contentType}`, 400, req.requestId);
    }
    let input: Record<string, unknown>;
    try {
      input = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    } catch {
      return ecsError('SerializationException', 'Start of structure or map found where not expected.', 400, req.requestId);
    }
    switch (action) {
      case 'ecs:ListTasks':
        return this.#listTasks(input, req);
      case 'ecs:DescribeTasks':
        return this.#describeTasks(input, req);
      case 'ecs:DescribeContainerInstances':
        return this.#describeContainerInstances(input, req);
      default:
        return ecsError('UnknownOperationException', `Operation ${action.slice(4)} is not supported by this emulator`, 400, req.requestId);
    }
  }

  #cluster(input: Record<string, unknown>): Cluster | undefined {
    const ref = typeof input.cluster === 'string' ? input.cluster : 'default';
    return [...this.state.clusters.values()].find((c) => c.name === ref || c.arn === ref);
  }

  #listTasks(input: Record<string, unknown>, req: EmulatorRequest): EmulatorResponse {
    const cluster = this.#cluster(input);
    if (!cluster) return ecsError('ClusterNotFoundException', 'Cluster not found.', 400, req.requestId);
    const maxResults = input.maxResults ?? 100;
    if (typeof maxResults !== 'number' || !Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
      return ecsError('InvalidParameterException', 'maxResults must be between 1 and 100.', 400, req.requestId);
    }
    const serviceName = input.serviceName as string | undefined;
    if (serviceName !== undefined && !cluster.services.has(serviceName)) {
      return ecsError('ServiceNotFoundException', 'Service not found.', 400, req.requestId);
    }
    const startedBy = input.startedBy as string | undefined;
    const desiredStatus = (input.desiredStatus as string | undefined) ?? 'RUNNING';
    const matching = cluster.tasks.filter(
      (t) =>
        t.desiredStatus === desiredStatus &&
        (serviceName === undefined || t.group === `service:${serviceName}`) &&
        (startedBy === undefined || t.startedBy === startedBy),
    );
    let offset = 0;
    if (input.nextToken !== undefined) {
      const decoded = decodeToken(input.nextToken);
      if (decoded === undefined) return ecsError('InvalidParameterException', 'Invalid token', 400, req.requestId);
      offset = decoded;
    }
    const page = matching.slice(offset, offset + maxResults);
    const next = offset + maxResults < matching.length ? encodeToken(offset + maxResults) : undefined;
    return ok({ taskArns: page.map((t) => t.taskArn), ...(next ? { nextToken: next } : {}) }, req);
  }

  #describeTasks(input: Record<string, unknown>, req: EmulatorRequest): EmulatorResponse {
    const cluster = this.#cluster(input);
    if (!cluster) return ecsError('ClusterNotFoundException', 'Cluster not found.', 400, req.requestId);
    const refs = input.tasks;
    if (!Array.isArray(refs) || refs.length === 0) return ecsError('InvalidParameterException', 'Tasks cannot be empty.', 400, req.requestId);
    if (refs.length > 100) return ecsError('InvalidParameterException', 'taskIds can have at most 100 items.', 400, req.requestId);
    this.describeBatchSizes.push(refs.length);
    const withTags = Array.isArray(input.include) && input.include.includes('TAGS');
    const tasks: unknown[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const ref of refs as string[]) {
      const t = typeof ref === 'string' ? cluster.byRef.get(ref) : undefined;
      if (!t) {
        failures.push({ arn: ref.startsWith('arn:') ? ref : taskArn(cluster.name, ref), reason: 'MISSING' });
        continue;
      }
      const { tags, ...rest } = t;
      tasks.push(withTags ? { ...rest, tags } : rest);
    }
    return ok({ tasks, failures }, req);
  }

  #describeContainerInstances(input: Record<string, unknown>, req: EmulatorRequest): EmulatorResponse {
    const cluster = this.#cluster(input);
    if (!cluster) return ecsError('ClusterNotFoundException', 'Cluster not found.', 400, req.requestId);
    const refs = input.containerInstances;
    if (!Array.isArray(refs) || refs.length === 0) return ecsError('InvalidParameterException', 'Container instances cannot be empty.', 400, req.requestId);
    if (refs.length > 100) return ecsError('InvalidParameterException', 'instanceIds can have at most 100 items.', 400, req.requestId);
    const found: EcsContainerInstance[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const ref of refs as string[]) {
      const ci = cluster.containerInstances.find((x) => x.containerInstanceArn === ref || x.containerInstanceArn.endsWith(`/${ref}`));
      if (ci) found.push(ci);
      else failures.push({ arn: ref, reason: 'MISSING' });
    }
    return ok({ containerInstances: found, failures }, req);
  }
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, v: 1 })).toString('base64');
}

function decodeToken(token: unknown): number | undefined {
  if (typeof token !== 'string') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { o?: unknown };
    return typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0 ? parsed.o : undefined;
  } catch {
    return undefined;
  }
}

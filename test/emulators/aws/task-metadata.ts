/*
 * ECS task metadata endpoint v4 emulator. ECS_CONTAINER_METADATA_URI_V4 points at
 * `<emulator>/v4/<container-id>`; GET on it returns this container's metadata, GET `<it>/task`
 * the task's (shapes from the "Amazon ECS task metadata endpoint version 4" documentation, with the
 * awsvpc and bridge variants: `Networks[].NetworkMode/IPv4Addresses`, `Ports[]` with
 * ContainerPort/Protocol/HostPort/HostIp). Actions: "task-metadata:GET /", "task-metadata:GET /task".
 */
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from './server.js';

export interface MetadataPort {
  ContainerPort: number;
  Protocol: string;
  HostPort: number;
  HostIp?: string;
}

export interface MetadataContainer {
  DockerId: string;
  Name: string;
  DockerName: string;
  Image: string;
  ImageID: string;
  Labels: Record<string, string>;
  DesiredStatus: string;
  KnownStatus: string;
  Limits: { CPU: number; Memory: number };
  CreatedAt: string;
  StartedAt: string;
  Type: string;
  ContainerARN: string;
  Networks: Record<string, unknown>[];
  Ports?: MetadataPort[];
}

export interface MetadataTask {
  Cluster: string;
  TaskARN: string;
  Family: string;
  Revision: string;
  DesiredStatus: string;
  KnownStatus: string;
  Limits: { CPU: number; Memory: number };
  PullStartedAt: string;
  PullStoppedAt: string;
  AvailabilityZone: string;
  LaunchType: string;
  Containers: MetadataContainer[];
  ServiceName?: string;
}

export interface MetadataContainerInit {
  name: string;
  /** awsvpc: the task ENI's IPv4; bridge: the container's docker bridge IPv4. */
  ipv4: string;
  ports?: { containerPort: number; hostPort: number; hostIp?: string }[];
}

export interface MetadataTaskInit {
  cluster: string;
  taskArn: string;
  networkMode: 'awsvpc' | 'bridge' | 'host';
  launchType?: 'EC2' | 'FARGATE';
  serviceName?: string;
  containers: MetadataContainerInit[];
  /** Which container ECS_CONTAINER_METADATA_URI_V4 belongs to [the first]. */
  self?: string;
}

export class TaskMetadataHandler implements EmulatorHandler {
  readonly name = 'task-metadata';
  task: MetadataTask | undefined;
  /** container id (path segment) → container */
  readonly #byId = new Map<string, MetadataContainer>();
  #selfId = '';
  /** Replace a response body verbatim (e.g. a shape with a missing field). */
  override: { task?: unknown; container?: unknown } = {};

  /** Sets the task this endpoint describes; returns the path to append to the emulator URL. */
  setTask(init: MetadataTaskInit): string {
    this.#byId.clear();
    const family = init.serviceName ?? 'app';
    const containers = init.containers.map((k, i) => {
      const dockerId = `${(i + 1).toString(16).padStart(2, '0')}${'c0ffee'.repeat(10)}aa`.slice(0, 64);
      const c: MetadataContainer = {
        DockerId: dockerId,
        Name: k.name,
        DockerName: `ecs-${family}-7-${k.name}-a1b2c3d4e5f6`,
        Image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${k.name}:latest`,
        ImageID: `sha256:${'ab'.repeat(32)}`,
        Labels: {
          'com.amazonaws.ecs.cluster': init.cluster,
          'com.amazonaws.ecs.container-name': k.name,
          'com.amazonaws.ecs.task-arn': init.taskArn,
          'com.amazonaws.ecs.task-definition-family': family,
          'com.amazonaws.ecs.task-definition-version': '7',
        },
        DesiredStatus: 'RUNNING',
        KnownStatus: 'RUNNING',
        Limits: { CPU: 256, Memory: 512 },
        CreatedAt: '2026-11-22T00:15:07.620912337Z',
        StartedAt: '2026-11-22T00:15:08.062559351Z',
        Type: 'NORMAL',
        ContainerARN: `arn:aws:ecs:us-east-1:123456789012:container/${init.cluster}/${dockerId.slice(0, 32)}`,
        Networks: [
          init.networkMode === 'awsvpc'
            ? {
                NetworkMode: 'awsvpc',
                IPv4Addresses: [k.ipv4],
                AttachmentIndex: 0,
                MACAddress: '0e:9e:32:c7:48:85',
                IPv4SubnetCIDRBlock: '10.0.0.0/16',
                PrivateDNSName: `ip-${k.ipv4.replaceAll('.', '-')}.ec2.internal`,
                SubnetGatewayIpv4Address: '10.0.0.1/16',
              }
            : { NetworkMode: init.networkMode, IPv4Addresses: [k.ipv4] },
        ],
        ...(k.ports
          ? {
              Ports: k.ports.map((p) => ({
                ContainerPort: p.containerPort,
                Protocol: 'tcp',
                HostPort: p.hostPort,
                ...(p.hostIp !== undefined ? { HostIp: p.hostIp } : {}),
              })),
            }
          : {}),
      };
      this.#byId.set(`${dockerId.slice(0, 32)}-${i}`, c);
      return c;
    });
    const selfName = init.self ?? init.containers[0]!.name;
    this.#selfId = [...this.#byId].find(([, c]) => c.Name === selfName)![0];
    this.task = {
      // EC2 reports the cluster's short name, Fargate its ARN.
      Cluster: init.launchType === 'FARGATE' ? `arn:aws:ecs:us-east-1:123456789012:cluster/${init.cluster}` : init.cluster,
      TaskARN: init.taskArn,
      Family: family,
      Revision: '7',
      DesiredStatus: 'RUNNING',
      KnownStatus: 'RUNNING',
      Limits: { CPU: 0.25, Memory: 512 },
      PullStartedAt: '2026-11-22T00:15:00.0Z',
      PullStoppedAt: '2026-11-22T00:15:06.0Z',
      AvailabilityZone: 'us-east-1a',
      LaunchType: init.launchType ?? (init.networkMode === 'awsvpc' ? 'FARGATE' : 'EC2'),
      Containers: containers,
      ...(init.serviceName ? { ServiceName: init.serviceName } : {}),
    };
    return `/v4/${this.#selfId}`;
  }

  match(req: EmulatorRequest): string | undefined {
    if (req.method !== 'GET' || !req.path.startsWith('/v4/')) return undefined;
    return req.path.endsWith('/task') ? 'task-metadata:GET /task' : 'task-metadata:GET /';
  }

  fault(kind: 'throttle' | 'error500' | 'malformed'): EmulatorResponse {
    if (kind === 'throttle') return { status: 429, headers: { 'content-type': 'text/plain' }, body: 'Too Many Requests' };
    if (kind === 'error500') return { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"internal error"}' };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"Cluster": "prod", "TaskARN": ' };
  }

  handle(req: EmulatorRequest, action: string): EmulatorResponse {
    const parts = req.path.split('/').filter(Boolean); // ["v4", id, ("task")]
    const container = this.#byId.get(parts[1] ?? '');
    if (!this.task || !container) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Unable to get container metadata\n' };
    const body = action === 'task-metadata:GET /task' ? (this.override.task ?? this.task) : (this.override.container ?? container);
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  }

  /** The id in ECS_CONTAINER_METADATA_URI_V4 (for tests that need the raw path). */
  get selfId(): string {
    return this.#selfId;
  }
}

/*
 * The environments the guides' snippets run in. Each world gives a node (by index) its environment
 * and, where a guide's config names infrastructure (a ZooKeeper ensemble, an IP to bind), the patch
 * that points it at the test's own servers. Nothing else in a snippet is changed.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EcsState } from '../emulators/aws/ecs.js';
import { ImdsHandler } from '../emulators/aws/imds.js';
import { AwsEmulator } from '../emulators/aws/server.js';
import { TaskMetadataHandler } from '../emulators/aws/task-metadata.js';
import { startEcsWorld, type EcsWorld } from '../aws/ecs-helpers.js';
import { linkPackage, makeBin } from './snippets.js';

export type Env = Record<string, string | undefined>;

export interface World {
  /** A node's own file-system root (its /etc, /app…): separate per node, as separate containers. */
  root(node: number): string;
  env(node: number): Env;
  /** Points a guide config at the test's servers / this node's address. */
  patchConfig(config: Record<string, unknown>, node: number): Record<string, unknown>;
  /** ECS/EC2 API actions called so far (for checking IAM policies). */
  apiActions(): string[];
  /** Calls of one API action so far. */
  apiCalls(action: string): number;
  close(): Promise<void>;
}

export const NODE_COUNT = 3;

export async function baseDirs(name: string): Promise<{ dir: string; bin: string; roots: string[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `clusterseed-guide-${name}-`));
  const bin = await makeBin(dir);
  const roots: string[] = [];
  for (let i = 0; i < NODE_COUNT; i++) {
    const root = path.join(dir, `node-${i}`);
    await mkdir(root, { recursive: true });
    await linkPackage(root);
    roots.push(root);
  }
  return { dir, bin, roots };
}

export const baseEnv = (bin: string, root: string): Env => ({
  PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
  HOME: root,
  NODE_NO_WARNINGS: '1',
});

/** One machine, the embedded file provider; every node shares node 0's root (one host). */
export async function fileWorld(): Promise<World> {
  const { bin, roots } = await baseDirs('file');
  return {
    root: () => roots[0]!,
    env: () => ({ ...baseEnv(bin, roots[0]!), AWS_EC2_METADATA_DISABLED: 'true' }),
    patchConfig: (c) => c,
    apiActions: () => [],
    apiCalls: () => 0,
    close: async () => {},
  };
}

const awsvpcIp = (node: number) => `127.0.0.${81 + node}`;
const bridgeHostIp = (node: number) => `127.0.0.${71 + node}`;
export const bridgeHostPort = (node: number) => 32768 + node;

/**
 * Fargate: the ECS API knows NODE_COUNT running awsvpc tasks of service "orders" in cluster "prod"
 * on 127.0.0.81…; each node has its own task metadata endpoint (its own container).
 */
export async function ecsAwsvpcWorld(options: { throttleListTasks?: number } = {}): Promise<World> {
  const { bin, roots } = await baseDirs('awsvpc');
  const state = new EcsState();
  for (let i = 0; i < NODE_COUNT; i++) state.addAwsvpcTask({ cluster: 'prod', service: 'orders', ip: awsvpcIp(i) });
  const api: EcsWorld = await startEcsWorld(state);
  if (options.throttleListTasks) api.emulator.inject('ecs:ListTasks', 'throttle', options.throttleListTasks);
  const metadata: { emulator: AwsEmulator; path: string }[] = [];
  for (let i = 0; i < NODE_COUNT; i++) {
    const handler = new TaskMetadataHandler();
    const emulator = await AwsEmulator.start([handler]);
    const p = handler.setTask({
      cluster: 'prod',
      taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod/${'0'.repeat(31)}${i}`,
      networkMode: 'awsvpc',
      launchType: 'FARGATE',
      serviceName: 'orders',
      containers: [{ name: 'orders', ipv4: awsvpcIp(i) }],
    });
    metadata.push({ emulator, path: p });
  }
  return {
    root: (n) => roots[n]!,
    env: (n) => ({
      ...baseEnv(bin, roots[n]!),
      ...api.env({ ECS_CONTAINER_METADATA_URI_V4: `${metadata[n]!.emulator.url}${metadata[n]!.path}` }),
      AWS_EC2_METADATA_DISABLED: 'true',
    }),
    // Tasks have their own IPs in ECS; on one test machine "0.0.0.0:7626" would be shared by all nodes.
    patchConfig: (c, n) => ({ ...c, management: { ...(c.management as object), host: awsvpcIp(n) } }),
    apiActions: () => Object.keys(api.emulator.callCounts()).filter((a) => a.startsWith('ecs:') || a.startsWith('ec2:')),
    apiCalls: (action) => api.emulator.calls(action),
    close: async () => {
      await api.emulator.close();
      for (const m of metadata) await m.emulator.close();
    },
  };
}

/**
 * EC2 bridge networking: each node is a task on its own emulated host (task metadata v4 with a
 * random host port for 25520, IMDSv2 with the host's IP), registering in the test's ZooKeeper.
 */
export async function ecsBridgeWorld(zookeeper: string): Promise<World> {
  const { bin, roots } = await baseDirs('bridge');
  const hosts: { emulator: AwsEmulator; path: string }[] = [];
  for (let i = 0; i < NODE_COUNT; i++) {
    const metadata = new TaskMetadataHandler();
    const imds = new ImdsHandler({ metadata: { 'local-ipv4': bridgeHostIp(i), 'instance-id': `i-0${i}23456789abcdef0` } });
    const emulator = await AwsEmulator.start([metadata, imds]);
    const p = metadata.setTask({
      cluster: 'prod',
      taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod/${'b'.repeat(31)}${i}`,
      networkMode: 'bridge',
      serviceName: 'orders',
      containers: [{ name: 'orders', ipv4: `172.17.0.${2 + i}`, ports: [{ containerPort: 25520, hostPort: bridgeHostPort(i) }] }],
    });
    hosts.push({ emulator, path: p });
  }
  const rootPath = `/guides-${process.pid}-${Date.now()}`;
  return {
    root: (n) => roots[n]!,
    env: (n) => ({
      ...baseEnv(bin, roots[n]!),
      ECS_CONTAINER_METADATA_URI_V4: `${hosts[n]!.emulator.url}${hosts[n]!.path}`,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: hosts[n]!.emulator.url,
    }),
    // The guide's ensemble (zk-1.internal…) is the test's ZooKeeper; a fresh root per run.
    patchConfig: (c) => {
      const d = c.discovery as Record<string, unknown>;
      return d.method === 'zookeeper' ? { ...c, discovery: { ...d, connectionString: zookeeper, rootPath } } : c;
    },
    apiActions: () => [],
    apiCalls: () => 0,
    close: async () => {
      for (const h of hosts) await h.emulator.close();
    },
  };
}

/** An EC2 instance whose IMDS token answers are dropped (bridge container, hop limit 1). */
export async function imdsHopLimitWorld(): Promise<World> {
  const { bin, roots } = await baseDirs('imds');
  const imds = new ImdsHandler({ hopLimitExceeded: true });
  const emulator = await AwsEmulator.start([imds]);
  return {
    root: () => roots[0]!,
    env: () => ({ ...baseEnv(bin, roots[0]!), AWS_EC2_METADATA_SERVICE_ENDPOINT: emulator.url }),
    patchConfig: (c) => c,
    apiActions: () => [],
    apiCalls: () => 0,
    close: () => emulator.close(),
  };
}

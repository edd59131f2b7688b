/* aws-ecs-task-set: own task from the metadata v4 emulator, its task set from DescribeTasks, then the set. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EcsTaskSetProvider } from '../../providers/aws-ecs-task-set/index.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { ConfigError, MetadataError, ProtocolError } from '../../src/errors.js';
import { createDiscovery } from '../../src/registry.js';
import { EcsState, type EcsTask } from '../emulators/aws/ecs.js';
import { hostInstance, startEcsWorld, type EcsWorld } from './ecs-helpers.js';
import { closedPort } from './emulator-helpers.js';

const instantClock: Clock = { now: () => Date.now(), setTimeout: (fn) => systemClock.setTimeout(fn, 0) };
let world: EcsWorld;
let metadataPath: string;
let own: EcsTask;
const green: string[] = [];
let standalone: EcsTask;

beforeAll(async () => {
  const state = new EcsState();
  // One service, two CodeDeploy task sets: blue (5 tasks) and green (4 tasks, ours among them).
  for (let n = 0; n < 5; n++) state.addAwsvpcTask({ cluster: 'prod', service: 'orders', startedBy: 'ecs-svc/1111111111111111111', ip: `10.0.1.${n + 1}` });
  for (let n = 0; n < 4; n++) {
    const t = state.addAwsvpcTask({ cluster: 'prod', service: 'orders', startedBy: 'ecs-svc/2222222222222222222', ip: `10.0.2.${n + 1}` });
    green.push(`10.0.2.${n + 1}`);
    if (n === 2) own = t;
  }
  standalone = state.addAwsvpcTask({ cluster: 'prod', ip: '10.0.3.1' });
  delete (standalone as { startedBy?: string }).startedBy;
  world = await startEcsWorld(state);
});
afterAll(() => world.emulator.close());
beforeEach(() => {
  world.emulator.resetCalls();
  world.emulator.clearFaults();
  world.metadata.override = {};
  metadataPath = world.metadata.setTask({
    cluster: 'prod',
    taskArn: own.taskArn,
    networkMode: 'awsvpc',
    serviceName: 'orders',
    containers: [{ name: 'app', ipv4: '10.0.2.3' }],
    launchType: 'EC2',
  });
});

const envWithMetadata = (uri?: string) => world.env({ ECS_CONTAINER_METADATA_URI_V4: uri ?? `${world.emulator.url}${metadataPath}` });
async function open(env = envWithMetadata(), extra: Record<string, unknown> = {}) {
  return createDiscovery({ method: 'aws-ecs-task-set', ...extra } as never, { env, clock: instantClock });
}

describe('aws-ecs-task-set against the emulators', () => {
  it('finds every task of its own task set, and looks its task set up only once', async () => {
    const p = await open();
    const points = await p.resolve({ service: 'ignored' });
    expect(points.map((x) => x.host)).toEqual(green);
    const startedBy = world.emulator.log.filter((l) => l.action === 'ecs:ListTasks').map((l) => JSON.parse(l.req.body));
    expect(startedBy).toEqual([{ cluster: 'prod', desiredStatus: 'RUNNING', maxResults: 100, startedBy: 'ecs-svc/2222222222222222222' }]);
    expect(world.emulator.calls('task-metadata:GET /task')).toBe(1);
    expect((p as unknown as EcsTaskSetProvider).lastResolveCalls).toEqual({ 'ecs:DescribeTasks': 2, 'ecs:ListTasks': 1 });

    await p.resolve({ service: 'ignored' });
    expect(world.emulator.calls('task-metadata:GET /task')).toBe(1);
    expect((p as unknown as EcsTaskSetProvider).lastResolveCalls).toEqual({ 'ecs:DescribeTasks': 1, 'ecs:ListTasks': 1 });
    await p.close();
  });

  it('works on Fargate, where the metadata reports the cluster ARN', async () => {
    metadataPath = world.metadata.setTask({
      cluster: 'prod',
      taskArn: own.taskArn,
      networkMode: 'awsvpc',
      launchType: 'FARGATE',
      containers: [{ name: 'app', ipv4: '10.0.2.3' }],
    });
    const p = await open();
    expect((await p.resolve({ service: 'x' })).map((x) => x.host)).toEqual(green);
    expect(JSON.parse(world.emulator.log.find((l) => l.action === 'ecs:ListTasks')!.req.body).cluster).toBe('arn:aws:ecs:us-east-1:123456789012:cluster/prod');
    await p.close();
  });

  it('bridge task sets report host IP and host port', async () => {
    const ci = world.ecs.state.addContainerInstance('edge', 'i-0feed00000000001');
    world.ec2.state.instances.push(hostInstance('i-0feed00000000001', '172.31.9.9'));
    const tasks = [0, 1].map((n) =>
      world.ecs.state.addBridgeTask({
        cluster: 'edge',
        service: 'gw',
        startedBy: 'ecs-svc/3333333333333333333',
        containerInstanceArn: ci.containerInstanceArn,
        containers: [
          { name: 'gw', bindings: [{ containerPort: 7626, hostPort: 33000 + n }] },
          { name: 'xray', bindings: [{ containerPort: 2000, hostPort: 34000 + n }] },
        ],
      }),
    );
    metadataPath = world.metadata.setTask({
      cluster: 'edge',
      taskArn: tasks[0]!.taskArn,
      networkMode: 'bridge',
      containers: [{ name: 'gw', ipv4: '172.17.0.2', ports: [{ containerPort: 7626, hostPort: 33000 }] }],
    });
    const p = await open(envWithMetadata(), { containerPort: 7626 });
    expect((await p.resolve({ service: 'x' })).map((x) => `${x.host}:${x.port}`)).toEqual(['172.31.9.9:33000', '172.31.9.9:33001']);
    await p.close();
  });

  it('a missing metadata variable is a MetadataError saying so (Pekko returns an empty list here)', async () => {
    const p = await open(world.env());
    const err = await p.resolve({ service: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as Error).message).toMatch(/ECS_CONTAINER_METADATA_URI_V4 is not set/);
    expect(world.emulator.calls()).toBe(0);
    await p.close();
  });

  it('a metadata endpoint that is down is a MetadataError saying it is unreachable', async () => {
    const port = await closedPort();
    const p = await open(envWithMetadata(`http://127.0.0.1:${port}/v4/abc`));
    await expect(p.resolve({ service: 'x' })).rejects.toThrow(
      /ECS task metadata endpoint http:\/\/127\.0\.0\.1:\d+\/v4\/abc\/task is unreachable \(ECONNREFUSED\)/,
    );
    await p.close();
  });

  it('a metadata endpoint answering 500 or garbage is a MetadataError / ProtocolError', async () => {
    world.emulator.inject('task-metadata:GET /task', 'error500', 1);
    const p = await open();
    await expect(p.resolve({ service: 'x' })).rejects.toThrow(/answered HTTP 500/);
    world.emulator.inject('task-metadata:GET /task', 'malformed', 1);
    await expect(p.resolve({ service: 'x' })).rejects.toThrow(/task metadata: the response is not JSON/);
    world.metadata.override = { task: { Cluster: 'prod', Containers: [] } };
    const err = await p.resolve({ service: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/field TaskARN is malformed/);
    await p.close();
  });

  it('a task without startedBy (standalone) is a ConfigError that points to aws-ecs', async () => {
    metadataPath = world.metadata.setTask({
      cluster: 'prod',
      taskArn: standalone.taskArn,
      networkMode: 'awsvpc',
      containers: [{ name: 'app', ipv4: '10.0.3.1' }],
    });
    const p = await open();
    const err = await p.resolve({ service: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).hint).toMatch(/use aws-ecs/);
    await p.close();
  });

  it('the cluster option overrides the metadata cluster', async () => {
    const p = await open(envWithMetadata(), { cluster: 'elsewhere' });
    await expect(p.resolve({ service: 'x' })).rejects.toThrow('ECS cluster "elsewhere" not found');
    await p.close();
  });
});

/* aws-ecs through the real SDK clients against the ECS/EC2 emulator (AWS_ENDPOINT_URL_ECS/EC2 in the injected env). */
import { DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EcsProvider } from '../../providers/aws-ecs/index.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { AbortedError, DiscoveryError, ProtocolError, ThrottledError } from '../../src/errors.js';
import { createDiscovery } from '../../src/registry.js';
import { EcsState, type EcsTask } from '../emulators/aws/ecs.js';
import { addAwsvpcFleet, hostInstance, startEcsWorld, type EcsWorld } from './ecs-helpers.js';

const instantClock: Clock = { now: () => Date.now(), setTimeout: (fn) => systemClock.setTimeout(fn, 0) };
let world: EcsWorld;
let blueIps: string[];
const bridgeTasks: { task: EcsTask; hostIp: string; hostPort: number }[] = [];

beforeAll(async () => {
  const state = new EcsState();
  // 260 tasks of "orders" over 3 pages (every 4th side=blue), plus noise the filters must drop.
  const ips = addAwsvpcFleet(state, 'prod', 'orders', 260);
  blueIps = ips.filter((_, n) => n % 4 === 0);
  addAwsvpcFleet(state, 'prod', 'billing', 30, 2);
  state.addAwsvpcTask({ cluster: 'prod', service: 'orders', ip: '10.9.0.1', lastStatus: 'PROVISIONING', tags: [{ key: 'side', value: 'blue' }] });
  state.addAwsvpcTask({
    cluster: 'prod',
    service: 'orders',
    ip: '10.9.0.2',
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    tags: [{ key: 'side', value: 'blue' }],
  });
  state.addAwsvpcTask({ cluster: 'prod', service: 'orders', ip: '10.9.0.3', addressInContainersOnly: true, tags: [{ key: 'side', value: 'blue' }] });
  blueIps.push('10.9.0.3');

  world = await startEcsWorld(state);
  // Bridge: 3 container instances, 3 tasks each; app maps 7626 to a random host port, sidecars others.
  for (let h = 0; h < 3; h++) {
    const instanceId = `i-0b${h}cdef0123456789`;
    const hostIp = `172.31.${h}.10`;
    world.ec2.state.instances.push(hostInstance(instanceId, hostIp));
    const ci = state.addContainerInstance('edge', instanceId);
    for (let t = 0; t < 3; t++) {
      const hostPort = 32768 + h * 10 + t;
      const task = state.addBridgeTask({
        cluster: 'edge',
        service: 'gateway',
        containerInstanceArn: ci.containerInstanceArn,
        containers: [
          { name: 'envoy', bindings: [{ containerPort: 9901, hostPort: 40000 + h * 10 + t }] },
          {
            name: 'gateway',
            bindings: [
              { containerPort: 7626, hostPort },
              { containerPort: 7626, hostPort: hostPort + 1000, bindIP: '::' },
              { containerPort: 8080, hostPort: 50000 + t },
            ],
          },
          { name: 'log-router', bindings: [] },
        ],
      });
      bridgeTasks.push({ task, hostIp, hostPort });
    }
  }
});
afterAll(() => world.emulator.close());
beforeEach(() => {
  world.emulator.resetCalls();
  world.emulator.clearFaults();
  world.ecs.describeBatchSizes.length = 0;
});

const open = async (discovery: Record<string, unknown>) =>
  createDiscovery({ method: 'aws-ecs', ...discovery } as never, { env: world.env(), clock: instantClock });
async function resolveWith(discovery: Record<string, unknown>, service = 'orders') {
  const p = await open(discovery);
  try {
    const points = await p.resolve({ service });
    return { points, calls: (p as unknown as EcsProvider).lastResolveCalls };
  } finally {
    await p.close();
  }
}

describe('aws-ecs against the emulator: awsvpc', () => {
  it('returns every RUNNING task of the service over all ListTasks pages', async () => {
    const { points, calls } = await resolveWith({ cluster: 'prod' });
    expect(points).toHaveLength(261); // 260 + the one with its address only on the container
    expect(points.every((p) => p.port === undefined && p.meta?.networkMode === 'awsvpc')).toBe(true);
    expect(world.emulator.calls('ecs:ListTasks')).toBe(3);
    expect(world.emulator.calls('ecs:DescribeTasks')).toBe(3);
    expect(world.ecs.describeBatchSizes.every((n) => n <= 100)).toBe(true);
    expect(calls).toEqual({ 'ecs:ListTasks': 3, 'ecs:DescribeTasks': 3 });
    const describe = world.emulator.log.find((l) => l.action === 'ecs:DescribeTasks')!;
    expect(JSON.parse(describe.req.body).include).toBeUndefined();
    expect(describe.req.headers['content-type']).toBe('application/x-amz-json-1.1');
  });

  it('applies tag filters with include TAGS, in canonical order', async () => {
    const { points } = await resolveWith({
      cluster: 'prod',
      tags: [
        { key: 'side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ],
    });
    // 10.9.0.3 has side=blue but no env tag.
    const expected = blueIps.filter((ip) => ip !== '10.9.0.3');
    expect(points.map((p) => p.host).sort()).toEqual([...expected].sort());
    expect(points.map((p) => p.host)).toEqual([...points.map((p) => p.host)].sort((a, b) => ipNum(a) - ipNum(b)));
    const bodies = world.emulator.log.filter((l) => l.action === 'ecs:DescribeTasks').map((l) => JSON.parse(l.req.body));
    expect(bodies.every((b) => b.include?.[0] === 'TAGS')).toBe(true);
  });

  it('the one-line config form works the same (tags=side:blue,env:prod)', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const config = await loadConfig({ env: { CLUSTERSEED_SERVICE: 'orders', CLUSTERSEED_DISCOVERY: 'method=aws-ecs cluster=prod tags=side:blue,env:prod' } });
    expect(config.discovery).toMatchObject({
      method: 'aws-ecs',
      cluster: 'prod',
      tags: [
        { key: 'side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ],
    });
    const p = await createDiscovery(config.discovery, { env: world.env(), clock: instantClock });
    expect(await p.resolve({ service: 'orders' })).toHaveLength(blueIps.length - 1);
    await p.close();
  });

  it('retries throttled calls (ThrottlingException) and 500s with back-off, then answers', async () => {
    world.emulator.inject('ecs:ListTasks', 'throttle', 2).inject('ecs:DescribeTasks', 'error500', 1);
    const { points, calls } = await resolveWith({ cluster: 'prod' });
    expect(points).toHaveLength(261);
    expect(calls).toEqual({ 'ecs:ListTasks': 5, 'ecs:DescribeTasks': 4 });
  });

  it('persistent throttling is a ThrottledError', async () => {
    world.emulator.inject('ecs:ListTasks', 'throttle', 100);
    await expect(resolveWith({ cluster: 'prod' })).rejects.toBeInstanceOf(ThrottledError);
  });

  it('malformed JSON is a ProtocolError, never a partial list', async () => {
    world.emulator.inject('ecs:DescribeTasks', 'malformed', 100);
    const err = await resolveWith({ cluster: 'prod' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/ecs:DescribeTasks failed: the response could not be parsed/);
  });

  it('unknown cluster and unknown service are clear, non-retried errors', async () => {
    const a = await resolveWith({ cluster: 'nope' }).catch((e: unknown) => e);
    expect(a).toBeInstanceOf(DiscoveryError);
    expect(a).toMatchObject({ message: 'ECS cluster "nope" not found', retriable: false });
    expect(world.emulator.calls('ecs:ListTasks')).toBe(1);
    await expect(resolveWith({ cluster: 'prod' }, 'payments')).rejects.toMatchObject({ message: 'ECS service "payments" not found in cluster "prod"' });
  });

  it('honours the AbortSignal while a call hangs', async () => {
    world.emulator.inject('ecs:ListTasks', 'hang', 1);
    const p = await open({ cluster: 'prod' });
    const controller = new AbortController();
    const pending = p.resolve({ service: 'orders' }, { signal: controller.signal });
    await waitFor(() => world.emulator.calls('ecs:ListTasks') === 1);
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await p.close();
  });
});

describe('aws-ecs against the emulator: bridge', () => {
  it('returns (host IP, host port) pairs over 3 container instances, ignoring sidecars', async () => {
    const { points, calls } = await resolveWith({ cluster: 'edge', containerPort: 7626 }, 'gateway');
    expect(points.map((p) => [p.host, p.port])).toEqual(
      bridgeTasks.map((b) => [b.hostIp, b.hostPort]).sort((x, y) => ipNum(x[0] as string) - ipNum(y[0] as string) || (x[1] as number) - (y[1] as number)),
    );
    expect(points[0]!.meta).toMatchObject({ networkMode: 'bridge', container: 'gateway', instanceId: 'i-0b0cdef0123456789' });
    expect(calls).toEqual({ 'ecs:ListTasks': 1, 'ecs:DescribeTasks': 1, 'ecs:DescribeContainerInstances': 1, 'ec2:DescribeInstances': 1 });
  });

  it('caches container instance → host IP across resolves', async () => {
    const p = await open({ cluster: 'edge', containerPort: 7626, containerName: 'gateway' });
    await p.resolve({ service: 'gateway' });
    const again = await p.resolve({ service: 'gateway' });
    expect(again).toHaveLength(9);
    expect((p as unknown as EcsProvider).lastResolveCalls).toEqual({ 'ecs:ListTasks': 1, 'ecs:DescribeTasks': 1 });
    expect(world.emulator.calls('ec2:DescribeInstances')).toBe(1);
    await p.close();
  });

  it('containerPort 8080 reports the other mapping; a port no container maps is a ConfigError, not an empty list', async () => {
    const { points } = await resolveWith({ cluster: 'edge', containerPort: 8080 }, 'gateway');
    expect(new Set(points.map((p) => p.port))).toEqual(new Set([50000, 50001, 50002]));
    await expect(resolveWith({ cluster: 'edge', containerPort: 1234 }, 'gateway')).rejects.toMatchObject({
      code: 'CLUSTERSEED_E_CONFIG',
      message: expect.stringContaining('maps container port 1234 (mapped: envoy:9901, gateway:7626, gateway:8080)'),
    });
  });
});

describe('the emulator speaks the real limits', () => {
  it('DescribeTasks rejects more than 100 tasks with InvalidParameterException', async () => {
    const client = new ECSClient({
      region: 'us-east-1',
      endpoint: world.emulator.url,
      credentials: { accessKeyId: 'AKID', secretAccessKey: 's' },
      maxAttempts: 1,
    });
    const tasks = Array.from({ length: 101 }, (_, i) => `t${i}`);
    const err = await client.send(new DescribeTasksCommand({ cluster: 'prod', tasks })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidParameterException', message: 'taskIds can have at most 100 items.' });
    const missing = await client.send(new DescribeTasksCommand({ cluster: 'prod', tasks: ['t1'] }));
    expect(missing.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:123456789012:task/prod/t1', reason: 'MISSING' }]);
    client.destroy();
  });
});

function ipNum(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

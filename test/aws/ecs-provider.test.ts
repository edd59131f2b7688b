/* aws-ecs against aws-sdk-client-mock: every branch of paging, batching, bridge lookups and errors. */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  ClusterNotFoundException,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  ServiceNotFoundException,
  type Task,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { definition, type EcsProvider } from '../../providers/aws-ecs/index.js';
import { EcsOptions } from '../../providers/aws-ecs/options.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { AuthError, ConfigError, DiscoveryError, ProtocolError, ThrottledError, TimeoutError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import type { ProviderContext } from '../../src/types.js';

const ecsMock = mockClient(ECSClient);
const ec2Mock = mockClient(EC2Client);
beforeEach(() => {
  ecsMock.reset();
  ec2Mock.reset();
});
afterEach(() => {
  ecsMock.reset();
  ec2Mock.reset();
});

/** Back-off delays pass at once: retries are exercised without waiting (the delays are src/backoff.ts's). */
const instantClock: Clock = { now: () => Date.now(), setTimeout: (fn) => systemClock.setTimeout(fn, 0) };
const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
const context = (): ProviderContext => ({ logger: silentLogger, clock: instantClock, env, createDiscovery: () => Promise.reject(new Error('unused')) });
const provider = (options: Record<string, unknown> = {}) =>
  definition.create(EcsOptions.parse({ method: 'aws-ecs', cluster: 'prod', ...options }), context()) as EcsProvider;

const arn = (n: number) => `arn:aws:ecs:us-east-1:123456789012:task/prod/${n.toString(16).padStart(32, '0')}`;
const ciArn = (n: number) => `arn:aws:ecs:us-east-1:123456789012:container-instance/prod/ci${n}`;
const ipOf = (n: number) => `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;
const awsvpc = (n: number, tags: Task['tags'] = []): Task => ({
  taskArn: arn(n),
  lastStatus: 'RUNNING',
  availabilityZone: 'us-east-1a',
  tags,
  attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: ipOf(n) }] }],
});
const bridge = (n: number, ci: number): Task => ({
  taskArn: arn(n),
  lastStatus: 'RUNNING',
  containerInstanceArn: ciArn(ci),
  attachments: [],
  containers: [
    { name: 'envoy', networkBindings: [{ containerPort: 9901, hostPort: 40000 + n, bindIP: '0.0.0.0' }] },
    { name: 'app', networkBindings: [{ containerPort: 7626, hostPort: 32768 + n, bindIP: '0.0.0.0' }] },
  ],
});

/** ListTasks over `count` ARNs in pages of ≤100; DescribeTasks answers from `make`. */
function fleet(count: number, make: (n: number) => Task) {
  const all = Array.from({ length: count }, (_, n) => n);
  ecsMock.on(ListTasksCommand).callsFake((input: { nextToken?: string; maxResults?: number }) => {
    const offset = input.nextToken ? Number(input.nextToken) : 0;
    const size = input.maxResults ?? 100;
    const page = all.slice(offset, offset + size);
    return { taskArns: page.map(arn), ...(offset + size < count ? { nextToken: String(offset + size) } : {}) };
  });
  ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
    tasks: input.tasks.map((a) => make(parseInt(a.slice(a.lastIndexOf('/') + 1), 16))),
    failures: [],
  }));
}

describe('aws-ecs: awsvpc', () => {
  it('follows every ListTasks page and describes in batches of at most 100, without TAGS', async () => {
    fleet(250, (n) => awsvpc(n));
    const p = provider();
    const points = await p.resolve({ service: 'orders' });
    expect(points).toHaveLength(250);
    expect(new Set(points.map((x) => x.host)).size).toBe(250);
    const lists = ecsMock.commandCalls(ListTasksCommand);
    expect(lists.map((c) => c.args[0].input)).toEqual([
      { cluster: 'prod', serviceName: 'orders', desiredStatus: 'RUNNING', maxResults: 100 },
      { cluster: 'prod', serviceName: 'orders', desiredStatus: 'RUNNING', maxResults: 100, nextToken: '100' },
      { cluster: 'prod', serviceName: 'orders', desiredStatus: 'RUNNING', maxResults: 100, nextToken: '200' },
    ]);
    const describes = ecsMock.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input);
    expect(describes.map((d) => d.tasks!.length)).toEqual([100, 100, 50]);
    expect(describes.every((d) => d.include === undefined && d.cluster === 'prod')).toBe(true);
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 3, 'ecs:DescribeTasks': 3 });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('uses serviceName over the lookup service', async () => {
    fleet(1, (n) => awsvpc(n));
    await provider({ serviceName: 'orders-v2' }).resolve({ service: 'orders' });
    expect(ecsMock.commandCalls(ListTasksCommand)[0]!.args[0].input.serviceName).toBe('orders-v2');
  });

  it('asks for TAGS only with a tag filter, and keeps only tasks carrying every tag', async () => {
    fleet(120, (n) =>
      awsvpc(n, [
        { key: 'side', value: n % 3 === 0 ? 'blue' : 'green' },
        { key: 'env', value: 'prod' },
      ]),
    );
    const points = await provider({
      tags: [
        { key: 'side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ],
    }).resolve({ service: 'orders' });
    expect(points).toHaveLength(40);
    expect(ecsMock.commandCalls(DescribeTasksCommand).every((c) => c.args[0].input.include?.[0] === 'TAGS')).toBe(true);
  });

  it('runs DescribeTasks batches in parallel, at most 4 at once', async () => {
    let active = 0;
    let peak = 0;
    fleet(1000, (n) => awsvpc(n));
    ecsMock.on(DescribeTasksCommand).callsFake(async (input: { tasks: string[] }) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      return { tasks: input.tasks.map((a) => awsvpc(parseInt(a.slice(a.lastIndexOf('/') + 1), 16))) };
    });
    const points = await provider().resolve({ service: 'orders' });
    expect(points).toHaveLength(1000);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4);
  });

  it('ignores tasks that vanished between ListTasks and DescribeTasks (failures[] MISSING) and non-RUNNING ones', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1), arn(2), arn(3)] });
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [awsvpc(1), { ...awsvpc(3), lastStatus: 'PROVISIONING' }],
      failures: [{ arn: arn(2), reason: 'MISSING' }],
    });
    expect((await provider().resolve({ service: 'orders' })).map((p) => p.host)).toEqual([ipOf(1)]);
  });

  it('an empty service is an empty list after one ListTasks and no DescribeTasks', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [] });
    const p = provider();
    expect(await p.resolve({ service: 'orders' })).toEqual([]);
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 1 });
  });
});

describe('aws-ecs: bridge', () => {
  it('reports (host IP, host port) via batched DescribeContainerInstances and EC2 DescribeInstances, cached', async () => {
    // 300 tasks on 150 container instances: two ECS batches and two EC2 batches of ≤100.
    fleet(300, (n) => bridge(n, n % 150));
    ecsMock.on(DescribeContainerInstancesCommand).callsFake((input: { containerInstances: string[] }) => ({
      containerInstances: input.containerInstances.map((a) => ({ containerInstanceArn: a, ec2InstanceId: `i-${a.slice(a.lastIndexOf('/ci') + 3)}` })),
      failures: [],
    }));
    ec2Mock.on(DescribeInstancesCommand).callsFake((input: { InstanceIds: string[] }) => ({
      Reservations: [{ Instances: input.InstanceIds.map((id) => ({ InstanceId: id, PrivateIpAddress: `172.31.0.${Number(id.slice(2)) + 1}` })) }],
    }));
    const p = provider({ containerPort: 7626 });
    const points = await p.resolve({ service: 'orders' });
    expect(points).toHaveLength(300);
    expect(points.find((x) => x.port === 32768 + 151)).toMatchObject({
      host: '172.31.0.2',
      meta: { instanceId: 'i-1', container: 'app', networkMode: 'bridge' },
    });
    expect(
      ecsMock
        .commandCalls(DescribeContainerInstancesCommand)
        .map((c) => c.args[0].input.containerInstances!.length)
        .sort(),
    ).toEqual([100, 50].sort());
    expect(
      ec2Mock
        .commandCalls(DescribeInstancesCommand)
        .map((c) => c.args[0].input.InstanceIds!.length)
        .sort(),
    ).toEqual([100, 50].sort());
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 3, 'ecs:DescribeTasks': 3, 'ecs:DescribeContainerInstances': 2, 'ec2:DescribeInstances': 2 });

    await p.resolve({ service: 'orders' });
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 3, 'ecs:DescribeTasks': 3 });
  });

  it('skips tasks whose container instance or EC2 host is gone', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1), arn(2)] });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [bridge(1, 1), bridge(2, 2)] });
    ecsMock.on(DescribeContainerInstancesCommand).resolves({
      containerInstances: [{ containerInstanceArn: ciArn(1), ec2InstanceId: 'i-1' }],
      failures: [{ arn: ciArn(2), reason: 'MISSING' }],
    });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', PrivateIpAddress: '172.31.0.9' }] }] });
    expect(await provider({ containerPort: 7626 }).resolve({ service: 'orders' })).toEqual([expect.objectContaining({ host: '172.31.0.9', port: 32769 })]);
  });

  it('warns (once per cause) about unusable tasks, failures and hosts without IP, and returns the usable ones', async () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) };
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1), arn(2), arn(3), arn(4)] });
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [bridge(1, 1), bridge(2, 2), { ...bridge(3, 1), containers: [{ name: 'other', networkBindings: [{ containerPort: 1, hostPort: 2 }] }] }],
      failures: [{ arn: arn(4), reason: 'ACCESS_DENIED' }],
    });
    ecsMock.on(DescribeContainerInstancesCommand).resolves({
      containerInstances: [
        { containerInstanceArn: ciArn(1), ec2InstanceId: 'i-1' },
        { containerInstanceArn: ciArn(2), ec2InstanceId: 'i-2' },
      ],
    });
    // i-2 is terminated: no private IP any more.
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', PrivateIpAddress: '172.31.0.9' }, { InstanceId: 'i-2' }] }] });
    const p = await definition.create(EcsOptions.parse({ method: 'aws-ecs', cluster: 'prod', containerPort: 7626 }), { ...context(), logger });
    expect((await p.resolve({ service: 'orders' })).map((x) => `${x.host}:${x.port}`)).toEqual(['172.31.0.9:32769']);
    expect(warnings).toEqual([
      'ECS DescribeTasks reported a failure for a task',
      'ECS task skipped: its container instance has no EC2 private IP',
      'some running ECS tasks were skipped (options do not match their task definition)',
    ]);
  });

  it('a malformed host IP or container instance is a ProtocolError naming the field', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1)] });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [bridge(1, 1)] });
    ecsMock.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [{ containerInstanceArn: ciArn(1), ec2InstanceId: 'i-1' }] });
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-1', PrivateIpAddress: 'not-an-ip' }] }] });
    await expect(provider({ containerPort: 7626 }).resolve({ service: 'orders' })).rejects.toThrow(
      /Reservations\[0\]\.Instances\[0\]\.PrivateIpAddress is not an IPv4/,
    );
    ecsMock.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [{ containerInstanceArn: ciArn(1) }] });
    await expect(provider({ containerPort: 7626 }).resolve({ service: 'orders' })).rejects.toThrow(ProtocolError);
  });

  it('bridge tasks without containerPort are a ConfigError, not an empty list', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1)] });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [bridge(1, 1)] });
    const err = await provider()
      .resolve({ service: 'orders' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/uses bridge networking.*set containerPort/);
    // The options schema refuses bridge without containerPort (so `config check` does); create() keeps the check as a defence.
    expect(EcsOptions.safeParse({ method: 'aws-ecs', networkMode: 'bridge' }).error?.issues).toMatchObject([{ path: ['containerPort'] }]);
    expect(() => definition.create({ ...EcsOptions.parse({ method: 'aws-ecs' }), networkMode: 'bridge' }, context())).toThrow(
      /containerPort: required with networkMode "bridge"/,
    );
  });
});

describe('aws-ecs: errors', () => {
  it('ClusterNotFoundException and ServiceNotFoundException say what is missing and are not retried', async () => {
    ecsMock.on(ListTasksCommand).rejects(new ClusterNotFoundException({ message: 'Cluster not found.', $metadata: { httpStatusCode: 400 } }));
    const err = await provider()
      .resolve({ service: 'orders' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err).toMatchObject({ retriable: false, message: 'ECS cluster "prod" not found' });
    expect(ecsMock.commandCalls(ListTasksCommand)).toHaveLength(1);

    ecsMock.on(ListTasksCommand).rejects(new ServiceNotFoundException({ message: 'Service not found.', $metadata: { httpStatusCode: 400 } }));
    await expect(provider().resolve({ service: 'orders' })).rejects.toMatchObject({
      retriable: false,
      message: 'ECS service "orders" not found in cluster "prod"',
    });
  });

  it('throttling is retried with back-off and counted; persistent throttling is a ThrottledError', async () => {
    const throttle = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
    fleet(150, (n) => awsvpc(n));
    ecsMock
      .on(DescribeTasksCommand)
      .rejectsOnce(throttle())
      .callsFake((input: { tasks: string[] }) => ({
        tasks: input.tasks.map((a) => awsvpc(parseInt(a.slice(a.lastIndexOf('/') + 1), 16))),
      }));
    const p = provider();
    expect(await p.resolve({ service: 'orders' })).toHaveLength(150);
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 2, 'ecs:DescribeTasks': 3 });

    ecsMock.on(ListTasksCommand).rejects(throttle());
    const err = await p.resolve({ service: 'orders' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(p.lastResolveCalls).toEqual({ 'ecs:ListTasks': 4 });
  });

  it('missing credentials are an AuthError', async () => {
    ecsMock.on(ListTasksCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    await expect(provider().resolve({ service: 'orders' })).rejects.toBeInstanceOf(AuthError);
  });

  it('a DescribeTasks batch failing fails the resolve (no partial answer)', async () => {
    fleet(300, (n) => awsvpc(n));
    ecsMock
      .on(DescribeTasksCommand)
      .rejects(Object.assign(new Error('AccessDenied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    await expect(provider().resolve({ service: 'orders' })).rejects.toMatchObject({
      code: 'CLUSTERSEED_E_AUTH',
      message: expect.stringContaining('ecs:DescribeTasks'),
    });
  });

  it('stops listing once a DescribeTasks batch has failed', async () => {
    fleet(1000, (n) => awsvpc(n));
    ecsMock.on(ListTasksCommand).callsFake(async (input: { nextToken?: string }) => {
      await new Promise((r) => setTimeout(r, 20)); // a page takes a while, as over the network
      const offset = input.nextToken ? Number(input.nextToken) : 0;
      return { taskArns: Array.from({ length: 100 }, (_, i) => arn(offset + i)), ...(offset + 100 < 1000 ? { nextToken: String(offset + 100) } : {}) };
    });
    ecsMock
      .on(DescribeTasksCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    await expect(provider().resolve({ service: 'orders' })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(ecsMock.commandCalls(ListTasksCommand).length).toBeLessThan(10);
  });

  it('a repeating nextToken is a ProtocolError, not an endless loop', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [arn(1)], nextToken: 'same' });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [awsvpc(1)] });
    await expect(provider().resolve({ service: 'orders' })).rejects.toThrow(/nextToken repeats/);
  });

  it('a hanging API is bounded by the resolve timeout', async () => {
    ecsMock.on(ListTasksCommand).callsFake(() => new Promise(() => {}));
    const p = await createDiscovery({ method: 'aws-ecs', cluster: 'prod' }, { env, clock: instantClock });
    await expect(p.resolve({ service: 'orders' }, { timeoutMs: 200 })).rejects.toBeInstanceOf(TimeoutError);
    await p.close();
  });

  it('meta never carries credentials', async () => {
    fleet(3, (n) => awsvpc(n));
    const points = await provider().resolve({ service: 'orders' });
    expect(JSON.stringify(points)).not.toMatch(/AKIDEXAMPLE|secret/);
  });
});

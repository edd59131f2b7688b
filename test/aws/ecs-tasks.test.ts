import type { Task } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { chunks, limiter } from '../../providers/aws-ecs/discover.js';
import { addressOfTask, eniAddress, hasAllTags, type AddressOptions } from '../../providers/aws-ecs/tasks.js';
import { ProtocolError } from '../../src/errors.js';

const ARN = 'arn:aws:ecs:us-east-1:123456789012:task/prod/abc123';
const CI = 'arn:aws:ecs:us-east-1:123456789012:container-instance/prod/ci1';
const opts = (o: Partial<AddressOptions> = {}): AddressOptions => ({ networkMode: 'auto', tags: [], ...o });

const awsvpcTask = (ip = '10.0.0.5', extra: Partial<Task> = {}): Task => ({
  taskArn: ARN,
  lastStatus: 'RUNNING',
  availabilityZone: 'us-east-1b',
  launchType: 'FARGATE',
  attachments: [
    {
      type: 'ElasticNetworkInterface',
      status: 'ATTACHED',
      details: [
        { name: 'networkInterfaceId', value: 'eni-1' },
        { name: 'privateIPv4Address', value: ip },
      ],
    },
  ],
  containers: [{ name: 'app', networkInterfaces: [{ privateIpv4Address: ip }] }],
  ...extra,
});

const bridgeTask = (containers: Task['containers'], extra: Partial<Task> = {}): Task => ({
  taskArn: ARN,
  lastStatus: 'RUNNING',
  launchType: 'EC2',
  containerInstanceArn: CI,
  attachments: [],
  containers,
  ...extra,
});
const binding = (containerPort: number, hostPort: number, bindIP = '0.0.0.0') => ({ containerPort, hostPort, bindIP, protocol: 'tcp' as const });

describe('awsvpc tasks', () => {
  it('use the ENI private IPv4 from the attachment details, with taskArn/az meta', () => {
    expect(addressOfTask(awsvpcTask(), opts(), 'tasks[0]')).toEqual({
      kind: 'eni',
      host: '10.0.0.5',
      meta: { taskArn: ARN, az: 'us-east-1b', launchType: 'FARGATE', networkMode: 'awsvpc' },
    });
  });

  it('fall back to containers[].networkInterfaces when the attachment has no address', () => {
    const t = awsvpcTask('10.0.0.9', { attachments: [] });
    expect(eniAddress(t, 'tasks[0]')).toBe('10.0.0.9');
    expect(addressOfTask(t, opts({ networkMode: 'awsvpc' }), 'tasks[0]')).toMatchObject({ kind: 'eni', host: '10.0.0.9' });
  });

  it('report containerPort as the port when one is configured (reachable as-is on the ENI)', () => {
    expect(addressOfTask(awsvpcTask(), opts({ containerPort: 7626 }), 'tasks[0]')).toMatchObject({ host: '10.0.0.5', port: 7626 });
  });

  it('without an address yet are skipped, not errors', () => {
    const t = awsvpcTask('x', { attachments: [{ type: 'ElasticNetworkInterface', details: [] }], containers: [{ name: 'app', networkInterfaces: [{}] }] });
    expect(addressOfTask(t, opts(), 'tasks[0]')).toMatchObject({ kind: 'skip' });
  });

  it('a malformed address is a ProtocolError naming the field', () => {
    expect(() => addressOfTask(awsvpcTask('10.0.0.999'), opts(), 'batch 2 tasks[7]')).toThrow(
      /batch 2 tasks\[7\]\.attachments\[0\]\.details\.privateIPv4Address is not an IPv4 address/,
    );
    const t = awsvpcTask('x', { attachments: [], containers: [{ name: 'a', networkInterfaces: [{ privateIpv4Address: 'nope' }] }] });
    expect(() => addressOfTask(t, opts(), 'tasks[1]')).toThrow(ProtocolError);
  });
});

describe('task filtering', () => {
  it('only RUNNING tasks count', () => {
    for (const s of ['PROVISIONING', 'PENDING', 'ACTIVATING', 'DEACTIVATING', 'STOPPED', undefined]) {
      expect(addressOfTask(awsvpcTask('10.0.0.5', { lastStatus: s }), opts(), 'tasks[0]').kind).toBe('skip');
    }
  });

  it('tag filters need every tag with the exact value', () => {
    const t = awsvpcTask('10.0.0.5', {
      tags: [
        { key: 'side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ],
    });
    expect(hasAllTags(t, [])).toBe(true);
    expect(
      hasAllTags(t, [
        { key: 'side', value: 'blue' },
        { key: 'env', value: 'prod' },
      ]),
    ).toBe(true);
    expect(hasAllTags(t, [{ key: 'side', value: 'green' }])).toBe(false);
    expect(hasAllTags(t, [{ key: 'owner', value: '' }])).toBe(false);
    expect(addressOfTask(t, opts({ tags: [{ key: 'side', value: 'green' }] }), 'tasks[0]').kind).toBe('skip');
  });

  it('a task without taskArn is a ProtocolError', () => {
    expect(() => addressOfTask({ lastStatus: 'RUNNING' }, opts(), 'tasks[3]')).toThrow(/tasks\[3\]\.taskArn is missing/);
  });
});

describe('bridge / host tasks', () => {
  const app = { name: 'app', networkBindings: [binding(7626, 32768), binding(8080, 32769)] };
  const sidecar = { name: 'envoy', networkBindings: [binding(9901, 32770)] };
  const logRouter = { name: 'log-router', networkBindings: [] };

  it('report the host port bound to containerPort in the one container exposing it (sidecars ignored)', () => {
    expect(addressOfTask(bridgeTask([sidecar, app, logRouter]), opts({ containerPort: 7626 }), 'tasks[0]')).toEqual({
      kind: 'host',
      containerInstanceArn: CI,
      port: 32768,
      meta: { taskArn: ARN, launchType: 'EC2', networkMode: 'bridge', containerInstanceArn: CI, container: 'app' },
    });
  });

  it('containerName picks the container when several expose the port', () => {
    const other = { name: 'admin', networkBindings: [binding(7626, 40000)] };
    expect(addressOfTask(bridgeTask([other, app]), opts({ containerPort: 7626 }), 'tasks[0]')).toMatchObject({ kind: 'skip', misconfigured: true });
    expect(addressOfTask(bridgeTask([other, app]), opts({ containerPort: 7626, containerName: 'app' }), 'tasks[0]')).toMatchObject({ port: 32768 });
    expect(addressOfTask(bridgeTask([other, app]), opts({ containerPort: 7626, containerName: 'nope' }), 'tasks[0]')).toMatchObject({
      kind: 'skip',
      misconfigured: true,
      reason: expect.stringContaining('no container named "nope"'),
    });
  });

  it('prefers the IPv4 binding when the agent reports v4 and v6 host ports', () => {
    const dual = { name: 'app', networkBindings: [binding(7626, 49825, '::'), binding(7626, 49832, '0.0.0.0')] };
    expect(addressOfTask(bridgeTask([dual]), opts({ containerPort: 7626 }), 'tasks[0]')).toMatchObject({ port: 49832 });
  });

  it('without containerPort: bridge is a misconfiguration, host reports the host IP alone', () => {
    expect(addressOfTask(bridgeTask([app]), opts(), 'tasks[0]')).toMatchObject({
      kind: 'skip',
      misconfigured: true,
      reason: expect.stringContaining('set containerPort'),
    });
    expect(addressOfTask(bridgeTask([app]), opts({ networkMode: 'host' }), 'tasks[0]')).toEqual({
      kind: 'host',
      containerInstanceArn: CI,
      meta: { taskArn: ARN, launchType: 'EC2', networkMode: 'host', containerInstanceArn: CI },
    });
  });

  it('a port no container maps is a misconfiguration; a binding without host port yet is skipped; a bad hostPort is a ProtocolError', () => {
    expect(addressOfTask(bridgeTask([sidecar]), opts({ containerPort: 7626 }), 'tasks[0]')).toMatchObject({
      kind: 'skip',
      misconfigured: true,
      reason: 'no container of task abc123 maps container port 7626 (mapped: envoy:9901)',
    });
    expect(addressOfTask(bridgeTask([sidecar, app]), opts({ containerPort: 7626, containerName: 'envoy' }), 'tasks[0]')).toMatchObject({
      kind: 'skip',
      misconfigured: true,
    });
    expect(
      addressOfTask(bridgeTask([{ name: 'app', networkBindings: [{ containerPort: 7626 }] }]), opts({ containerPort: 7626, containerName: 'app' }), 'tasks[0]'),
    ).toEqual({
      kind: 'skip',
      reason: 'task abc123: container "app" has no host port bound to 7626 (yet)',
    });
    const bad = { name: 'app', networkBindings: [binding(7626, 70000)] };
    expect(() => addressOfTask(bridgeTask([bad]), opts({ containerPort: 7626 }), 'tasks[2]')).toThrow(
      /tasks\[2\]\.containers\[0\]\.networkBindings\[0\]\.hostPort is not a port/,
    );
  });

  it('networkMode auto decides per task; a task without ENI or container instance is skipped', () => {
    expect(addressOfTask(awsvpcTask(), opts({ containerPort: 7626 }), 'a').kind).toBe('eni');
    expect(addressOfTask(bridgeTask([app]), opts({ containerPort: 7626 }), 'b').kind).toBe('host');
    expect(addressOfTask(bridgeTask([app], { containerInstanceArn: undefined }), opts({ containerPort: 7626 }), 'c').kind).toBe('skip');
  });

  it('an explicit networkMode overrides the guess', () => {
    // awsvpc on EC2 has a container instance too; bridge mode then looks for host port bindings.
    expect(addressOfTask(awsvpcTask('10.0.0.5', { containerInstanceArn: CI }), opts({ networkMode: 'bridge', containerPort: 7626 }), 'a').kind).toBe('skip');
    expect(addressOfTask(bridgeTask([app]), opts({ networkMode: 'awsvpc' }), 'b').kind).toBe('skip');
  });
});

describe('helpers', () => {
  it('chunks', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 100)).toEqual([]);
  });

  it('limiter never runs more than n jobs at once and runs them all', async () => {
    const run = limiter(3);
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setImmediate(r));
          active--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(peak).toBe(3);
  });

  it('limiter passes rejections through and keeps going', async () => {
    const run = limiter(1);
    const a = run(() => Promise.reject(new Error('boom')));
    const b = run(() => Promise.resolve(2));
    await expect(a).rejects.toThrow('boom');
    await expect(b).resolves.toBe(2);
  });
});

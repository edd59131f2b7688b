/* resolveSelfAddress({mode:'ecs'}) against the task metadata v4 and IMDSv2 emulators, awsvpc and bridge. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, MetadataError, ProtocolError } from '../../src/errors.js';
import { fetchContainerMetadata, fetchTaskMetadata } from '../../src/self-address/ecs-metadata.js';
import { resolveSelfAddress } from '../../src/self-address/index.js';
import { startEcsWorld, type EcsWorld } from './ecs-helpers.js';
import { closedPort } from './emulator-helpers.js';

let world: EcsWorld;
beforeAll(async () => {
  world = await startEcsWorld();
});
afterAll(() => world.emulator.close());
beforeEach(() => {
  world.emulator.resetCalls();
  world.emulator.clearFaults();
  world.metadata.override = {};
  Object.assign(world.imds.state, { hopLimitExceeded: false, disabled: false, httpTokens: 'required' });
});

const TASK = 'arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef0123456789abcdef';
const envFor = (path: string) => world.env({ ECS_CONTAINER_METADATA_URI_V4: `${world.emulator.url}${path}` });

function bridgeTask(ports: { containerPort: number; hostPort: number; hostIp?: string }[], self = 'app') {
  return world.metadata.setTask({
    cluster: 'prod',
    taskArn: TASK,
    networkMode: 'bridge',
    self,
    containers: [
      { name: 'app', ipv4: '172.17.0.2', ports },
      { name: 'envoy', ipv4: '172.17.0.3', ports: [{ containerPort: 9901, hostPort: 49001 }] },
    ],
  });
}

describe('self-address ecs: awsvpc', () => {
  it("is this container's Networks[].IPv4Addresses[0], with no IMDS call", async () => {
    const path = world.metadata.setTask({ cluster: 'prod', taskArn: TASK, networkMode: 'awsvpc', containers: [{ name: 'app', ipv4: '10.0.7.42' }] });
    expect(await resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).toEqual({ host: '10.0.7.42', source: 'ecs-awsvpc' });
    expect(world.emulator.calls('imds:')).toBe(0);
    expect(world.emulator.calls('task-metadata:GET /')).toBe(1);
  });

  it('an awsvpc network without IPv4 or with a bad address is a ProtocolError naming the field', async () => {
    const path = world.metadata.setTask({ cluster: 'prod', taskArn: TASK, networkMode: 'awsvpc', containers: [{ name: 'app', ipv4: '10.0.7.42' }] });
    world.metadata.override = { container: { Name: 'app', Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: [] }] } };
    await expect(resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).rejects.toThrow(/field Networks\[0\]\.IPv4Addresses is empty/);
    world.metadata.override = { container: { Name: 'app', Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.7.300'] }] } };
    await expect(resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).rejects.toBeInstanceOf(ProtocolError);
    world.metadata.override = { container: { Name: 'app' } };
    await expect(resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).rejects.toThrow(/field Networks is missing or empty/);
    world.metadata.override = { container: { Name: 'app', Networks: 'awsvpc' } };
    await expect(resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).rejects.toThrow(/container metadata: field Networks is malformed/);
  });
});

describe('self-address ecs: bridge', () => {
  it("is the EC2 host IP from IMDSv2 plus this container's host port for containerPort (IPv4 binding)", async () => {
    const path = bridgeTask([
      { containerPort: 7626, hostPort: 49153, hostIp: '::' },
      { containerPort: 7626, hostPort: 49152, hostIp: '0.0.0.0' },
      { containerPort: 8080, hostPort: 49154, hostIp: '0.0.0.0' },
    ]);
    expect(await resolveSelfAddress({ mode: 'ecs', containerPort: 7626, env: envFor(path) })).toEqual({ host: '10.0.1.17', port: 49152, source: 'ecs-bridge' });
    expect(world.emulator.calls('imds:PUT /latest/api/token')).toBe(1);
    expect(world.emulator.calls('imds:GET /latest/meta-data/local-ipv4')).toBe(1);
  });

  it('uses the only mapped port without containerPort; several need containerPort', async () => {
    const one = bridgeTask([{ containerPort: 7626, hostPort: 32768 }]);
    expect(await resolveSelfAddress({ mode: 'ecs', env: envFor(one) })).toMatchObject({ port: 32768 });
    const two = bridgeTask([
      { containerPort: 7626, hostPort: 32768 },
      { containerPort: 8080, hostPort: 32769 },
    ]);
    const err = await resolveSelfAddress({ mode: 'ecs', env: envFor(two) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/maps several ports \(7626, 8080\)/);
  });

  it('a containerPort that is not mapped is a MetadataError with the fix in the hint', async () => {
    const path = bridgeTask([{ containerPort: 8080, hostPort: 32769 }]);
    const err = await resolveSelfAddress({ mode: 'ecs', containerPort: 7626, env: envFor(path) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as MetadataError).hint).toContain('"hostPort": 0');
  });

  it('IMDS unreachable from the bridge (hop limit 1) names the hop limit in the hint', async () => {
    world.imds.state.hopLimitExceeded = true;
    const path = bridgeTask([{ containerPort: 7626, hostPort: 32768 }]);
    const err = await resolveSelfAddress({ mode: 'ecs', containerPort: 7626, env: envFor(path), timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as MetadataError).hint).toMatch(/hop limit/);
  });

  it('host networking: host IP from IMDS, the container port as is', async () => {
    const path = world.metadata.setTask({
      cluster: 'prod',
      taskArn: TASK,
      networkMode: 'host',
      containers: [{ name: 'app', ipv4: '10.0.1.17', ports: [{ containerPort: 7626, hostPort: 7626 }] }],
    });
    expect(await resolveSelfAddress({ mode: 'ecs', containerPort: 7626, env: envFor(path) })).toEqual({ host: '10.0.1.17', port: 7626, source: 'ecs-host' });
    expect(await resolveSelfAddress({ mode: 'ecs', env: envFor(path) })).toEqual({ host: '10.0.1.17', source: 'ecs-host' });
  });
});

describe('the metadata v4 client', () => {
  it('reads container and task metadata', async () => {
    const path = bridgeTask([{ containerPort: 7626, hostPort: 32768 }], 'envoy');
    const env = envFor(path);
    expect(await fetchContainerMetadata({ env })).toMatchObject({ Name: 'envoy', Ports: [{ ContainerPort: 9901, HostPort: 49001 }] });
    const task = await fetchTaskMetadata({ env });
    expect(task).toMatchObject({ Cluster: 'prod', TaskARN: TASK, LaunchType: 'EC2' });
    expect(task.Containers?.map((c) => c.Name)).toEqual(['app', 'envoy']);
  });

  it('a missing variable, a down endpoint, a hang and a 404 are MetadataErrors that say which', async () => {
    await expect(fetchTaskMetadata({ env: {} })).rejects.toThrow(/ECS_CONTAINER_METADATA_URI_V4 is not set/);
    await expect(fetchTaskMetadata({ env: { ECS_CONTAINER_METADATA_URI_V4: 'not a url' } })).rejects.toThrow(/is not a URL/);
    const port = await closedPort();
    const down = await resolveSelfAddress({ mode: 'ecs', env: { ECS_CONTAINER_METADATA_URI_V4: `http://127.0.0.1:${port}/v4/x` } }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(MetadataError);
    expect((down as Error).message).toMatch(/is unreachable \(ECONNREFUSED\)/);
    const path = bridgeTask([{ containerPort: 7626, hostPort: 32768 }]);
    world.emulator.inject('task-metadata:GET /', 'hang', 1);
    await expect(fetchContainerMetadata({ env: envFor(path), timeoutMs: 200 })).rejects.toThrow(/did not answer within 200 ms/);
    await expect(fetchContainerMetadata({ env: envFor('/v4/unknown') })).rejects.toThrow(/answered HTTP 404/);
  });

  it("the caller's abort wins over the endpoint", async () => {
    const path = bridgeTask([{ containerPort: 7626, hostPort: 32768 }]);
    world.emulator.inject('task-metadata:GET /', 'hang', 1);
    const controller = new AbortController();
    const pending = fetchContainerMetadata({ env: envFor(path), signal: controller.signal, timeoutMs: 30_000 });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: 'CLUSTERSEED_E_ABORTED' });
  });
});

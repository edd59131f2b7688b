/* The built CLI (node dist/src/cli/main.js) in child processes against the emulators: env only, no flags for endpoints. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcsState } from '../emulators/aws/ecs.js';
import { addAwsvpcFleet, hostInstance, startEcsWorld, type EcsWorld } from './ecs-helpers.js';

const repo = path.resolve(import.meta.dirname, '../..');
const cliPath = path.join(repo, 'dist/src/cli/main.js');
const emptyHome = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-ecs-home-'));

let world: EcsWorld;
let ips: string[];

beforeAll(async () => {
  const state = new EcsState();
  ips = addAwsvpcFleet(state, 'prod', 'orders', 130);
  state.addAwsvpcTask({ cluster: 'prod', service: 'orders', ip: '10.9.9.9', lastStatus: 'PENDING' });
  world = await startEcsWorld(state);
  for (let h = 0; h < 3; h++) {
    const id = `i-0c${h}00000000000000`;
    world.ec2.state.instances.push(hostInstance(id, `172.31.${h}.5`));
    const ci = state.addContainerInstance('edge', id);
    state.addBridgeTask({
      cluster: 'edge',
      service: 'gateway',
      containerInstanceArn: ci.containerInstanceArn,
      containers: [
        { name: 'gateway', bindings: [{ containerPort: 7626, hostPort: 32000 + h }] },
        { name: 'envoy', bindings: [{ containerPort: 9901, hostPort: 33000 + h }] },
      ],
    });
  }
});
afterAll(() => world.emulator.close());

/** The child sees only this environment (no inherited AWS settings, an empty HOME). */
function run(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv = { PATH: process.env.PATH, HOME: emptyHome, AWS_EC2_METADATA_DISABLED: 'true', NODE_NO_WARNINGS: '1', ...env } as NodeJS.ProcessEnv;
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: childEnv, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('clusterseed resolve with aws-ecs', () => {
  it("returns every running task's address (awsvpc)", async () => {
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ecs cluster=prod'], world.env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { service: string; method: string; contactPoints: { host: string; port?: number; meta: Record<string, string> }[] };
    expect(out.service).toBe('orders');
    expect(out.method).toBe('aws-ecs');
    expect(out.contactPoints.map((p) => p.host).sort()).toEqual([...ips].sort());
    expect(out.contactPoints[0]!.meta.taskArn).toMatch(/^arn:aws:ecs:us-east-1:123456789012:task\/prod\//);
  });

  it('bridge mode returns (host IP, host port) pairs', async () => {
    const r = await run(['resolve', '--service', 'gateway', '--discovery', 'method=aws-ecs cluster=edge containerPort=7626', '--format', 'lines'], world.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('172.31.0.5:32000\n172.31.1.5:32001\n172.31.2.5:32002\n');
  });

  it('accepts the Pekko alias and the tag filter in the one-line form', async () => {
    const r = await run(
      ['resolve', '--service', 'orders', '--discovery', 'method=aws-api-ecs-async cluster=prod tags=side:blue', '--format', 'lines'],
      world.env(),
    );
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(ips.filter((_, n) => n % 4 === 0).length);
  });

  it('missing credentials: exit 1 and a one-line error that says so', async () => {
    const env = world.env({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ecs cluster=prod'], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^clusterseed: ecs:ListTasks failed: no AWS credentials found — provide AWS credentials/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unknown cluster: exit 1 naming the cluster', async () => {
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ecs cluster=nope'], world.env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECS cluster "nope" not found — check discovery.cluster/);
  });

  it('bridge without containerPort is a configuration error (exit 2)', async () => {
    const r = await run(['resolve', '--service', 'gateway', '--discovery', 'method=aws-ecs cluster=edge networkMode=bridge'], world.env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/containerPort: required with networkMode "bridge"/);
  });
});

describe('clusterseed with ECS task metadata', () => {
  it('aws-ecs-task-set resolves its own task set; a down metadata endpoint is exit 1 with a clear message', async () => {
    const own = world.ecs.state.clusters.get('prod')!.tasks[5]!;
    const metaPath = world.metadata.setTask({ cluster: 'prod', taskArn: own.taskArn, networkMode: 'awsvpc', containers: [{ name: 'app', ipv4: ips[5]! }] });
    const ok = await run(
      ['resolve', '--service', 'orders', '--discovery', 'method=aws-ecs-task-set', '--format', 'lines'],
      world.env({ ECS_CONTAINER_METADATA_URI_V4: `${world.emulator.url}${metaPath}` }),
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n').sort()).toEqual([...ips].sort());

    const down = await run(
      ['resolve', '--service', 'orders', '--discovery', 'method=aws-ecs-task-set'],
      world.env({ ECS_CONTAINER_METADATA_URI_V4: 'http://127.0.0.1:9/v4/x' }),
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^clusterseed: ECS task metadata endpoint http:\/\/127\.0\.0\.1:9\/v4\/x\/task is unreachable/);
  });

  it('self-address --mode ecs prints HOST_IP/HOST_PORT for bridge and the ENI IP for awsvpc', async () => {
    const bridgePath = world.metadata.setTask({
      cluster: 'edge',
      taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/edge/feedfeedfeedfeedfeedfeedfeedfeed',
      networkMode: 'bridge',
      containers: [
        {
          name: 'gateway',
          ipv4: '172.17.0.2',
          ports: [
            { containerPort: 7626, hostPort: 32001, hostIp: '0.0.0.0' },
            { containerPort: 7626, hostPort: 32011, hostIp: '::' },
          ],
        },
      ],
    });
    const env = world.env({ ECS_CONTAINER_METADATA_URI_V4: `${world.emulator.url}${bridgePath}`, AWS_EC2_METADATA_DISABLED: undefined });
    const bridge = await run(['self-address', '--mode', 'ecs', '--container-port', '7626'], env);
    expect(bridge.stderr).toBe('');
    expect(bridge.stdout).toBe('HOST_IP=10.0.1.17\nHOST_PORT=32001\n');
    const auto = await run(['self-address', '--format', 'json'], env);
    expect(JSON.parse(auto.stdout)).toEqual({ host: '10.0.1.17', port: 32001, source: 'ecs-bridge' });

    const awsvpcPath = world.metadata.setTask({
      cluster: 'prod',
      taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/prod/abcdabcdabcdabcdabcdabcdabcdabcd',
      networkMode: 'awsvpc',
      containers: [{ name: 'app', ipv4: '10.0.42.7' }],
    });
    const awsvpc = await run(
      ['self-address', '--mode', 'ecs', '--format', 'json'],
      world.env({ ECS_CONTAINER_METADATA_URI_V4: `${world.emulator.url}${awsvpcPath}` }),
    );
    expect(JSON.parse(awsvpc.stdout)).toEqual({ host: '10.0.42.7', source: 'ecs-awsvpc' });
  });
});

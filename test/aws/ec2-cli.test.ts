import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsEmulator } from '../emulators/aws/server.js';
import { Ec2Handler, makeFleet } from '../emulators/aws/ec2.js';
import { ImdsHandler } from '../emulators/aws/imds.js';

/*
 * The built CLI (`npm run build` first) as a child process, talking to the emulator only through the
 * standard AWS variables. The child is async so the emulator in this process keeps answering.
 */
const repo = path.resolve(import.meta.dirname, '../..');
const cliPath = path.join(repo, 'dist/src/cli/main.js');
const emptyHome = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-aws-home-'));

let emulator: AwsEmulator;
let ec2: Ec2Handler;
let imds: ImdsHandler;
let closedPort: number;
const fleet = makeFleet({ count: 2200, services: ['orders', 'billing'], notRunningEvery: 5, untaggedEvery: 9 });

beforeAll(async () => {
  ec2 = new Ec2Handler({ instances: fleet });
  imds = new ImdsHandler();
  emulator = await AwsEmulator.start([ec2, imds]);
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closedPort = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.resetCalls();
  emulator.clearFaults();
  imds.state.hopLimitExceeded = false;
});

/** A clean environment: nothing from the developer's own AWS setup leaks in. */
function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: emptyHome,
    AWS_CONFIG_FILE: path.join(emptyHome, 'none-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(emptyHome, 'none-credentials'),
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_EC2: emulator.url,
    // The SDK's own multi-line "Node 20 support ends in 2027" warning is not ours to assert on.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  };
}
const creds = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'fake-secret-value-123' };

function run(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const running = (service: string) => fleet.filter((i) => i.state === 'running' && i.tags.service === service);

describe('clusterseed resolve --discovery "method=aws-ec2-tags …" against the emulator', () => {
  it('returns every running tagged instance of a 2,200-instance fleet', async () => {
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ec2-tags ports=7626', '--format', 'json'], baseEnv(creds));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { service: string; method: string; contactPoints: { host: string; port: number; meta: Record<string, string> }[] };
    expect(out.method).toBe('aws-ec2-tags');
    expect(out.contactPoints.map((p) => p.host).sort()).toEqual(
      running('orders')
        .map((i) => i.privateIpAddress!)
        .sort(),
    );
    expect(out.contactPoints.every((p) => p.port === 7626 && p.meta.instanceId!.startsWith('i-'))).toBe(true);
  });

  it('accepts the Pekko alias and string filters, prints lines', async () => {
    const r = await run(
      ['resolve', '--service', 'billing', '--discovery', 'method=aws-api-ec2-tag-based filters="instance-type=t3.medium;tag:env=staging"', '--format', 'lines'],
      baseEnv(creds),
    );
    expect(r.code).toBe(0);
    const want = running('billing').filter((i) => i.instanceType === 't3.medium' && i.tags.env === 'staging');
    expect(r.stdout.trim().split('\n').sort()).toEqual(want.map((i) => i.privateIpAddress!).sort());
  });

  it('survives throttling', async () => {
    emulator.inject('ec2:DescribeInstances', 'throttle', 2);
    const r = await run(['resolve', '--service', 'billing', '--discovery', 'method=aws-ec2-tags', '--format', 'lines'], baseEnv(creds));
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(running('billing').length);
  });

  it('malformed XML: exit 1 with one protocol error line', async () => {
    emulator.inject('ec2:DescribeInstances', 'malformed', 10);
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ec2-tags'], baseEnv(creds));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^clusterseed: ec2:DescribeInstances failed: the response could not be parsed/);
  });

  it('missing credentials: exit 1 with an AuthError that says how to provide them', async () => {
    // No keys, no profile files, and the instance-role lookup goes to a closed port.
    const r = await run(
      ['resolve', '--service', 'orders', '--discovery', 'method=aws-ec2-tags'],
      baseEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${closedPort}` }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no AWS credentials found — provide AWS credentials: an IAM role/);
    expect(emulator.calls('ec2:DescribeInstances')).toBe(0);
  });

  it('never prints the secret key', async () => {
    ec2.state.denyAll = true;
    try {
      const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ec2-tags', '--verbose'], baseEnv(creds));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not authorized to perform ec2:DescribeInstances/);
      expect(r.stderr).not.toContain(creds.AWS_SECRET_ACCESS_KEY);
    } finally {
      ec2.state.denyAll = false;
    }
  });

  it('a bad filter string is a configuration error (exit 2)', async () => {
    const r = await run(['resolve', '--service', 'orders', '--discovery', 'method=aws-ec2-tags filters=oops'], baseEnv(creds));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/discovery.filters: entry "oops" is not name=value/);
  });
});

describe('clusterseed self-address', () => {
  it('ec2 mode prints HOST_IP from IMDSv2', async () => {
    const r = await run(['self-address', '--mode', 'ec2'], baseEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emulator.url }));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('HOST_IP=10.0.1.17\n');
    expect(emulator.calls('imds:PUT /latest/api/token')).toBe(1);
  });

  it('auto picks IMDS from AWS_EC2_METADATA_SERVICE_ENDPOINT, json format', async () => {
    const r = await run(['self-address', '--format', 'json'], baseEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emulator.url }));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ host: '10.0.1.17', source: 'ec2' });
  });

  it('IMDS down: exit 1 with a clear one-line error', async () => {
    const r = await run(['self-address', '--mode', 'ec2'], baseEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${closedPort}` }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/IMDS at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
  });

  it('IMDS token reply lost (hop limit): the hint names the hop limit', async () => {
    imds.state.hopLimitExceeded = true;
    const r = await run(['self-address', '--mode', 'ec2', '--timeout', '300'], baseEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT: emulator.url }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 300 ms.*hop limit set to 2/);
  });

  it('rejects bad flags with exit 2', async () => {
    expect((await run(['self-address', '--mode', 'k8s'], baseEnv())).code).toBe(2);
    expect((await run(['self-address', '--container-port', '0'], baseEnv())).code).toBe(2);
  });
});

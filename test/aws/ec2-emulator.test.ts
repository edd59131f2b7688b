import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsEmulator } from '../emulators/aws/server.js';
import { Ec2Handler, makeFleet, wildcard, type Ec2Instance } from '../emulators/aws/ec2.js';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { createDiscovery } from '../../src/registry.js';
import { AuthError, ConfigError, DiscoveryError, ProtocolError, ThrottledError } from '../../src/errors.js';
import type { DiscoveryConfigInput } from '../../src/config/discovery.js';

let emulator: AwsEmulator;
let ec2: Ec2Handler;
const fleet = makeFleet({ count: 2400, services: ['orders', 'billing'], notRunningEvery: 7, untaggedEvery: 11 });

beforeAll(async () => {
  ec2 = new Ec2Handler({ instances: fleet });
  emulator = await AwsEmulator.start([ec2]);
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.resetCalls();
  emulator.clearFaults();
  ec2.state.denyAll = false;
  ec2.state.instances = fleet;
});

const env = () => ({
  AWS_ENDPOINT_URL_EC2: emulator.url,
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
});

async function resolve(discovery: Record<string, unknown>, service = 'orders', timeoutMs = 20_000) {
  const provider = await createDiscovery({ method: 'aws-ec2-tags', ...discovery } as DiscoveryConfigInput, { env: env() });
  try {
    return await provider.resolve({ service }, { timeoutMs });
  } finally {
    await provider.close();
  }
}

const expected = (pred: (i: Ec2Instance) => boolean) => fleet.filter((i) => i.state === 'running' && pred(i));

describe('aws-ec2-tags against the EC2 Query API emulator', () => {
  it('follows every page of a 2,400-instance fleet with mixed states and tags', async () => {
    const points = await resolve({});
    const want = expected((i) => i.tags.service === 'orders');
    expect(want.length).toBeGreaterThan(900);
    expect(points.map((p) => p.host).sort()).toEqual(want.map((i) => i.privateIpAddress!).sort());
    expect(points.every((p) => p.port === undefined)).toBe(true);
    const first = want.find((i) => i.privateIpAddress === points[0]!.host)!;
    expect(points[0]!.meta).toEqual({ instanceId: first.instanceId, az: first.availabilityZone });
    // matching instances ≤ 1000 per page: one call per page of 1000
    expect(emulator.calls('ec2:DescribeInstances')).toBe(
      Math.max(1, Math.ceil(fleet.filter((i) => i.state === 'running' && i.tags.service === 'orders').length / 1000)),
    );
    const sent = new URLSearchParams(emulator.log[0]!.req.body);
    expect(sent.get('Filter.1.Name')).toBe('instance-state-name');
    expect(sent.get('Filter.1.Value.1')).toBe('running');
    expect(sent.get('Filter.2.Name')).toBe('tag:service');
    expect(sent.get('Filter.2.Value.1')).toBe('orders');
    expect(sent.get('MaxResults')).toBe('1000');
  });

  it('pages through more than 1,000 matches', async () => {
    ec2.state.instances = makeFleet({ count: 2600, notRunningEvery: 13 });
    const points = await resolve({});
    expect(points).toHaveLength(ec2.state.instances.filter((i) => i.state === 'running').length);
    expect(emulator.calls('ec2:DescribeInstances')).toBe(3);
    expect(emulator.log[1]!.req.body).toContain('NextToken=');
  });

  it('applies tagKey/tagValue and Pekko-string filters', async () => {
    const points = await resolve({ tagKey: 'env', tagValue: 'prod', filters: 'instance-type=m5.large;tag:service=billing' });
    const want = expected((i) => i.tags.env === 'prod' && i.instanceType === 'm5.large' && i.tags.service === 'billing');
    expect(points.map((p) => p.host).sort()).toEqual(want.map((i) => i.privateIpAddress!).sort());
  });

  it('applies array filters with several values and wildcards', async () => {
    const points = await resolve({
      filters: [
        { name: 'availability-zone', values: ['eu-west-1a', 'eu-west-1b'] },
        { name: 'tag:Name', values: ['node-1*'] },
      ],
    });
    const want = expected((i) => i.tags.service === 'orders' && ['eu-west-1a', 'eu-west-1b'].includes(i.availabilityZone) && i.tags.Name!.startsWith('node-1'));
    expect(want.length).toBeGreaterThan(10);
    expect(points.map((p) => p.host).sort()).toEqual(want.map((i) => i.privateIpAddress!).sort());
  });

  it('gives one contact point per (address, port) and honours addressType', async () => {
    const withPorts = await resolve({ ports: [7626, 7627], tagValue: 'billing' });
    expect(withPorts).toHaveLength(expected((i) => i.tags.service === 'billing').length * 2);
    expect(new Set(withPorts.map((p) => p.port))).toEqual(new Set([7626, 7627]));
    const pub = await resolve({ addressType: 'public-ipv4' });
    expect(pub.map((p) => p.host).sort()).toEqual(
      expected((i) => i.tags.service === 'orders' && !!i.publicIpAddress)
        .map((i) => i.publicIpAddress!)
        .sort(),
    );
    const v6 = await resolve({ addressType: 'ipv6', ports: [7626] });
    expect(v6.length).toBeGreaterThan(0);
    expect(v6.every((p) => p.host.startsWith('2001:db8::') && p.port === 7626)).toBe(true);
  });

  it('an empty result is an empty list, not an error', async () => {
    expect(await resolve({}, 'nobody')).toEqual([]);
  });

  it('backs off on RequestLimitExceeded and then succeeds', async () => {
    emulator.inject('ec2:DescribeInstances', 'throttle', 2);
    const points = await resolve({ tagValue: 'billing' });
    expect(points.length).toBe(expected((i) => i.tags.service === 'billing').length);
    expect(points.length).toBeLessThan(1000);
    expect(emulator.calls('ec2:DescribeInstances')).toBe(3); // 2 throttled + 1 page
  });

  it('gives up with a ThrottledError when throttling persists', async () => {
    emulator.inject('ec2:DescribeInstances', 'throttle', 50);
    await expect(resolve({})).rejects.toBeInstanceOf(ThrottledError);
  });

  it('retries an InternalError', async () => {
    emulator.inject('ec2:DescribeInstances', 'error500', 1);
    expect((await resolve({ tagValue: 'billing' })).length).toBeGreaterThan(0);
  });

  it('reports malformed XML as a ProtocolError', async () => {
    emulator.inject('ec2:DescribeInstances', 'malformed', 10);
    const err = await resolve({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/ec2:DescribeInstances failed: the response could not be parsed/);
  });

  it('names the IAM action on UnauthorizedOperation', async () => {
    ec2.state.denyAll = true;
    const err = (await resolve({}).catch((e: unknown) => e)) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.message).toMatch(/not authorized to perform ec2:DescribeInstances \(UnauthorizedOperation\)/);
    expect(err.hint).toMatch(/allow "ec2:DescribeInstances"/);
    expect(emulator.calls('ec2:DescribeInstances')).toBe(1); // never retried
  });

  it('rejects a malformed filter string at creation', async () => {
    await expect(resolve({ filters: 'instance-type' })).rejects.toBeInstanceOf(ConfigError);
  });

  it('reports an unknown filter name from AWS as a non-retried DiscoveryError', async () => {
    const err = (await resolve({ filters: 'no-such-filter=x' }).catch((e: unknown) => e)) as DiscoveryError;
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/InvalidParameterValue/);
    expect(emulator.calls('ec2:DescribeInstances')).toBe(1);
  });

  it('bounds a hanging endpoint by the resolve timeout', async () => {
    emulator.inject('ec2:DescribeInstances', 'hang', 10);
    const err = (await resolve({}, 'orders', 300).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/timed out after 300 ms/);
  });
});

describe('the EC2 emulator speaks the wire format the real SDK expects', () => {
  const client = () =>
    new EC2Client({ region: 'eu-west-1', endpoint: emulator.url, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' }, maxAttempts: 1 });
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as { name: string; message: string; $metadata: { httpStatusCode: number; requestId?: string } },
    );

  it('parses instances, tags, placement and IPv6 on the network interface', async () => {
    const id = fleet.find((i) => i.state === 'running' && i.ipv6Address)!.instanceId;
    const out = await client().send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    const i = out.Reservations![0]!.Instances![0]!;
    const want = fleet.find((x) => x.instanceId === id)!;
    expect(i.State).toEqual({ Code: 16, Name: 'running' });
    expect(i.PrivateIpAddress).toBe(want.privateIpAddress);
    expect(i.PublicIpAddress).toBe(want.publicIpAddress);
    expect(i.Ipv6Address).toBe(want.ipv6Address);
    expect(i.NetworkInterfaces![0]!.Ipv6Addresses![0]!.Ipv6Address).toBe(want.ipv6Address);
    expect(i.Placement!.AvailabilityZone).toBe(want.availabilityZone);
    expect(i.Tags).toEqual(expect.arrayContaining([{ Key: 'service', Value: want.tags.service }]));
  });

  it('answers validation errors in the EC2 XML error format with a request id', async () => {
    const combo = await failure(client().send(new DescribeInstancesCommand({ InstanceIds: ['i-1'], MaxResults: 10 })));
    expect(combo.name).toBe('InvalidParameterCombination');
    expect(combo.$metadata.httpStatusCode).toBe(400);
    expect(combo.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await failure(client().send(new DescribeInstancesCommand({ MaxResults: 3 })))).name).toBe('InvalidParameterValue');
    expect((await failure(client().send(new DescribeInstancesCommand({ InstanceIds: ['i-nope'] })))).name).toBe('InvalidInstanceID.NotFound');
    expect((await failure(client().send(new DescribeInstancesCommand({ NextToken: 'garbage' })))).name).toBe('InvalidParameterValue');
    emulator.inject('ec2:DescribeInstances', 'throttle');
    const throttled = await failure(client().send(new DescribeInstancesCommand({})));
    expect(throttled.name).toBe('RequestLimitExceeded');
    expect(throttled.$metadata.httpStatusCode).toBe(503);
  });

  it('implements AWS filter wildcards and tag-key', async () => {
    expect(wildcard('node-?').test('node-7')).toBe(true);
    expect(wildcard('node-?').test('node-17')).toBe(false);
    expect(wildcard('a\\*b').test('a*b')).toBe(true);
    expect(wildcard('a\\*b').test('axb')).toBe(false);
    expect(wildcard('*.large').test('m5.large')).toBe(true);
    const out = await client().send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'tag-key', Values: ['env'] },
          { Name: 'instance-state-name', Values: ['stopped', 'pending'] },
        ],
        MaxResults: 1000,
      }),
    );
    const got = out
      .Reservations!.flatMap((r) => r.Instances!)
      .map((i) => i.InstanceId)
      .sort();
    expect(got).toEqual(
      fleet
        .filter((i) => 'env' in i.tags && ['stopped', 'pending'].includes(i.state))
        .map((i) => i.instanceId)
        .sort(),
    );
    expect(got.length).toBeGreaterThan(0);
  });

  it('rejects unsigned requests like AWS does', async () => {
    const res = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=DescribeInstances&Version=2016-11-15',
    });
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/<Response><Errors><Error><Code>AuthFailure<\/Code>.*<RequestID>/);
  });
});

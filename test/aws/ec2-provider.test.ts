import { DescribeInstancesCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { AbortedError, AuthError, ConfigError, DiscoveryError, ProtocolError, ThrottledError, TimeoutError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { Ec2TagsProvider } from '../../providers/aws-ec2-tags/index.js';
import { buildFilters, parseFilterString } from '../../providers/aws-ec2-tags/filters.js';
import { addressOf, contactPointsOf } from '../../providers/aws-ec2-tags/instances.js';
import { Ec2TagsOptions } from '../../providers/aws-ec2-tags/options.js';
import { ApiCallCounter, awsCall, awsClientConfig, mapAwsError } from '../../providers/aws-common/index.js';

/** Runs every back-off timer at once and records the delays asked for. */
function instantClock(delays: number[] = []): Clock {
  return {
    now: () => Date.now(),
    setTimeout(fn, ms) {
      delays.push(ms);
      const t = setImmediate(fn);
      return { cancel: () => clearImmediate(t), unref: () => {} };
    },
  };
}

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());

const options = (extra: Record<string, unknown> = {}) => Ec2TagsOptions.parse({ method: 'aws-ec2-tags', ...extra });
const env = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'x' };
const provider = (extra: Record<string, unknown> = {}) => new Ec2TagsProvider(options(extra), { env, logger: silentLogger, clock: instantClock() });

const instance = (id: string, ip: string, extra: Partial<Instance> = {}): Instance => ({
  InstanceId: id,
  State: { Name: 'running', Code: 16 },
  PrivateIpAddress: ip,
  Placement: { AvailabilityZone: 'eu-west-1a' },
  ...extra,
});

describe('filters', () => {
  it('parses the Pekko string form', () => {
    expect(parseFilterString('instance-type=m5.large; tag:env=prod;;tag:x=a=b')).toEqual([
      { Name: 'instance-type', Values: ['m5.large'] },
      { Name: 'tag:env', Values: ['prod'] },
      { Name: 'tag:x', Values: ['a=b'] },
    ]);
    expect(() => parseFilterString('instance-type')).toThrow(ConfigError);
    expect(() => parseFilterString('=x')).toThrow(/discovery.filters: entry "=x" is not name=value/);
  });

  it('always filters on running and the service tag, then the extra filters', () => {
    expect(buildFilters(options({ filters: [{ name: 'instance-type', values: ['a', 'b'] }] }), 'orders')).toEqual([
      { Name: 'instance-state-name', Values: ['running'] },
      { Name: 'tag:service', Values: ['orders'] },
      { Name: 'instance-type', Values: ['a', 'b'] },
    ]);
    expect(buildFilters(options({ tagKey: 'app', tagValue: 'x' }), 'orders')[1]).toEqual({ Name: 'tag:app', Values: ['x'] });
  });
});

describe('contact points of a page', () => {
  it('picks the address by addressType, IPv6 from the primary interface when not top-level', () => {
    const i = instance('i-1', '10.0.0.1', {
      PublicIpAddress: '198.51.100.1',
      NetworkInterfaces: [
        { Attachment: { DeviceIndex: 1 }, Ipv6Addresses: [{ Ipv6Address: '2001:db8::99' }] },
        { Attachment: { DeviceIndex: 0 }, Ipv6Addresses: [{ Ipv6Address: '2001:db8::2' }, { Ipv6Address: '2001:db8::1', IsPrimaryIpv6: true }] },
      ],
    });
    expect(addressOf(i, 'private-ipv4')).toBe('10.0.0.1');
    expect(addressOf(i, 'public-ipv4')).toBe('198.51.100.1');
    expect(addressOf(i, 'ipv6')).toBe('2001:db8::1');
    expect(addressOf({ ...i, Ipv6Address: '2001:db8::5' }, 'ipv6')).toBe('2001:db8::5');
    expect(addressOf(instance('i-2', '10.0.0.2'), 'ipv6')).toBeUndefined();
  });

  it('skips non-running instances and those without the address, one point per port', () => {
    const page = contactPointsOf(
      [
        {
          Instances: [
            instance('i-1', '10.0.0.1'),
            instance('i-2', '10.0.0.2', { State: { Name: 'stopped' } }),
            instance('i-3', '10.0.0.3', { PrivateIpAddress: undefined }),
          ],
        },
      ],
      { addressType: 'private-ipv4', ports: [1, 2] },
    );
    expect(page.points).toEqual([
      { host: '10.0.0.1', port: 1, meta: { instanceId: 'i-1', az: 'eu-west-1a' } },
      { host: '10.0.0.1', port: 2, meta: { instanceId: 'i-1', az: 'eu-west-1a' } },
    ]);
    expect(page.withoutAddress).toEqual(['i-3']);
  });

  it('rejects values that are not addresses, naming the field', () => {
    expect(() => contactPointsOf([{ Instances: [instance('i-1', 'not-an-ip')] }], { addressType: 'private-ipv4', ports: [] })).toThrow(
      /privateIpAddress of i-1 is not an IPv4 address/,
    );
    expect(() => contactPointsOf([{ Instances: [instance('i-1', '10.0.0.1', { Ipv6Address: '10.0.0.9' })] }], { addressType: 'ipv6', ports: [] })).toThrow(
      ProtocolError,
    );
    expect(() => contactPointsOf([{ Instances: [{ State: { Name: 'running' } }] }], { addressType: 'private-ipv4', ports: [] })).toThrow(/without instanceId/);
  });
});

describe('Ec2TagsProvider with a mocked SDK', () => {
  it('follows NextToken across pages with MaxResults 1000', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce({ Reservations: [{ Instances: [instance('i-1', '10.0.0.1')] }], NextToken: 't1' })
      .resolvesOnce({ Reservations: [{ Instances: [instance('i-2', '10.0.0.2')] }] });
    const p = provider();
    const points = await p.resolve({ service: 'orders' });
    expect(points.map((x) => x.host)).toEqual(['10.0.0.1', '10.0.0.2']);
    const calls = ec2Mock.commandCalls(DescribeInstancesCommand);
    expect(calls.map((c) => c.args[0].input.NextToken)).toEqual([undefined, 't1']);
    expect(calls[0]!.args[0].input.MaxResults).toBe(1000);
    expect(p.apiCalls.total).toBe(2);
  });

  it('stops on a repeating NextToken with a ProtocolError', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [], NextToken: 'same' });
    await expect(provider().resolve({ service: 'orders' })).rejects.toThrow(/nextToken repeats/);
  });

  it('treats a missing reservation list as empty', async () => {
    ec2Mock.on(DescribeInstancesCommand).resolves({});
    expect(await provider().resolve({ service: 'orders' })).toEqual([]);
  });

  it('retries throttling then succeeds', async () => {
    const throttle = Object.assign(new Error('Request limit exceeded.'), {
      name: 'RequestLimitExceeded',
      $fault: 'client',
      $metadata: { httpStatusCode: 503 },
    });
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejectsOnce(throttle)
      .resolves({ Reservations: [{ Instances: [instance('i-1', '10.0.0.1')] }] });
    const p = provider();
    expect(await p.resolve({ service: 'orders' })).toHaveLength(1);
    expect(p.apiCalls.total).toBe(2);
  });

  it('maps missing credentials to an AuthError without retrying', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const p = provider();
    const err = (await p.resolve({ service: 'orders' }).catch((e: unknown) => e)) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.hint).toMatch(/AWS_ACCESS_KEY_ID/);
    expect(p.apiCalls.total).toBe(1);
  });
});

describe('mapAwsError', () => {
  const call = { iamAction: 'ec2:DescribeInstances' };
  const sdkError = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${name} happened`), { name, ...extra });

  it('classifies every kind of failure', () => {
    expect(mapAwsError(sdkError('ThrottlingException', { $fault: 'client' }), call)).toBeInstanceOf(ThrottledError);
    expect(mapAwsError(sdkError('Unknown', { $metadata: { httpStatusCode: 429 } }), call)).toBeInstanceOf(ThrottledError);
    expect(mapAwsError(sdkError('AccessDeniedException', { $fault: 'client' }), call).message).toMatch(/not authorized to perform ec2:DescribeInstances/);
    expect(mapAwsError(sdkError('AuthFailure', { $fault: 'client' }), call).message).toMatch(/rejected the credentials/);
    const parse = mapAwsError(Object.assign(new Error('Unexpected end\n  Deserialization error: …'), { $response: {} }), call);
    expect(parse).toBeInstanceOf(ProtocolError);
    expect(parse.message).not.toMatch(/Deserialization/);
    expect(mapAwsError(new Error('Region is missing'), call)).toBeInstanceOf(ConfigError);
    const server = mapAwsError(sdkError('InternalError', { $fault: 'server', $metadata: { httpStatusCode: 500, requestId: 'r-1' } }), call);
    expect(server).toBeInstanceOf(DiscoveryError);
    expect(server.retriable).toBe(true);
    expect(server.message).toMatch(/request id r-1/);
    const client = mapAwsError(sdkError('InvalidParameterValue', { $fault: 'client' }), call);
    expect(client.retriable).toBe(false);
    const net = mapAwsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), { ...call, endpoint: 'http://127.0.0.1:9' });
    expect(net.retriable).toBe(true);
    expect(net.hint).toMatch(/127\.0\.0\.1:9/);
  });

  it('lets an aborted or timed-out signal win', () => {
    const c = new AbortController();
    c.abort(new TimeoutError('x timed out'));
    expect(mapAwsError(new Error('AbortError'), call, c.signal)).toBeInstanceOf(TimeoutError);
    const d = new AbortController();
    d.abort();
    expect(mapAwsError(new Error('AbortError'), call, d.signal)).toBeInstanceOf(AbortedError);
  });
});

describe('awsCall', () => {
  it('retries throttling with the longer back-off, counts attempts, and stops after the limit', async () => {
    const delays: number[] = [];
    const counter = new ApiCallCounter();
    const throttle = Object.assign(new Error('slow down'), { name: 'ThrottlingException', $fault: 'client' });
    const err = await awsCall(async () => Promise.reject(throttle), {
      iamAction: 'ecs:ListTasks',
      counter,
      clock: instantClock(delays),
      random: () => 1,
      attempts: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(counter.get('ecs:ListTasks')).toBe(3);
    expect(delays).toEqual([500, 1000]);
  });

  it('gives each attempt its own timeout and the abort signal', async () => {
    let seen: AbortSignal | undefined;
    const err = await awsCall(
      (signal) => {
        seen = signal;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('AbortError'))));
      },
      { iamAction: 'ec2:DescribeInstances', attemptTimeoutMs: 20, attempts: 1 },
    ).catch((e: unknown) => e);
    expect(seen?.aborted).toBe(true);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('stops at once when the caller aborts', async () => {
    const c = new AbortController();
    c.abort();
    const err = await awsCall(() => Promise.reject(new Error('x')), { iamAction: 'a', signal: c.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
  });
});

describe('awsClientConfig', () => {
  it('takes region and endpoint from options, then the service variable, then the generic one', () => {
    expect(awsClientConfig('ec2', {}, { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_EC2: 'http://b:2' })).toEqual({
      maxAttempts: 1,
      region: 'eu-west-1',
      endpoint: 'http://b:2',
    });
    expect(awsClientConfig('ecs', {}, { AWS_DEFAULT_REGION: 'us-west-2', AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_EC2: 'http://b:2' })).toEqual({
      maxAttempts: 1,
      region: 'us-west-2',
      endpoint: 'http://a:1',
    });
    expect(awsClientConfig('ec2', { region: 'ap-south-1', endpoint: 'http://c:3' }, { AWS_REGION: 'x', AWS_ENDPOINT_URL_EC2: 'http://b:2' })).toMatchObject({
      region: 'ap-south-1',
      endpoint: 'http://c:3',
    });
    expect(awsClientConfig('ec2', {}, { AWS_ENDPOINT_URL_EC2: 'http://b:2', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toEqual({ maxAttempts: 1 });
    expect(() => awsClientConfig('ec2', {}, { AWS_ENDPOINT_URL_EC2: 'not a url' })).toThrow(ConfigError);
  });

  it('uses static credentials only when the environment carries both parts', () => {
    expect(awsClientConfig('ec2', {}, { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }).credentials).toEqual({
      accessKeyId: 'AKID',
      secretAccessKey: 's',
      sessionToken: 't',
    });
    expect(awsClientConfig('ec2', {}, { AWS_ACCESS_KEY_ID: 'AKID' }).credentials).toBeUndefined();
  });
});

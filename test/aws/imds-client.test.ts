import { describe, expect, it } from 'vitest';
import { fetchImdsMetadata, ImdsClient, imdsEndpoint } from '../../src/self-address/imds.js';
import { AbortedError, MetadataError } from '../../src/errors.js';
import { closedPort, useImdsEmulator } from './emulator-helpers.js';

const aws = useImdsEmulator();
const env = aws.env;

describe('imdsEndpoint', () => {
  it('uses AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address', () => {
    expect(imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1234/' })).toBe('http://127.0.0.1:1234');
    expect(imdsEndpoint({})).toBe('http://169.254.169.254');
    expect(imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' })).toBe('http://[fd00:ec2::254]');
  });
});

describe('IMDSv2 client against the emulator', () => {
  it('gets a token first, then reads metadata with it', async () => {
    expect(await fetchImdsMetadata('local-ipv4', { env: env() })).toBe('10.0.1.17');
    expect(aws.emulator.calls('imds:PUT /latest/api/token')).toBe(1);
    expect(aws.emulator.calls('imds:GET /latest/meta-data/local-ipv4')).toBe(1);
    const get = aws.emulator.log.find((l) => l.action.startsWith('imds:GET'))!;
    expect(typeof get.req.headers['x-aws-ec2-metadata-token']).toBe('string');
  });

  it('reuses its token for later reads', async () => {
    const client = new ImdsClient({ env: env() });
    await client.getMetadata('local-ipv4');
    await client.getMetadata('instance-id');
    expect(aws.emulator.calls('imds:PUT /latest/api/token')).toBe(1);
    expect(client.calls).toBe(3);
  });

  it('never falls back to IMDSv1 unless allowed', async () => {
    aws.emulator.inject('imds:PUT /latest/api/token', 'error500');
    await expect(fetchImdsMetadata('local-ipv4', { env: env() })).rejects.toThrow(/token request failed with HTTP 500/);
    expect(aws.emulator.calls('imds:GET /latest/meta-data/local-ipv4')).toBe(0);
  });

  it('falls back to IMDSv1 when allowImdsV1 is set and the instance accepts it', async () => {
    aws.handler.state.httpTokens = 'optional';
    aws.emulator.inject('imds:PUT /latest/api/token', 'error500');
    expect(await fetchImdsMetadata('local-ipv4', { env: env(), allowImdsV1: true })).toBe('10.0.1.17');
  });

  it('explains the hop limit when the token reply never arrives', async () => {
    aws.handler.state.hopLimitExceeded = true;
    const err = await fetchImdsMetadata('local-ipv4', { env: env(), timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as MetadataError).message).toMatch(/timed out after 200 ms/);
    expect((err as MetadataError).hint).toMatch(/hop limit set to 2/);
  });

  it('reports a clear error when IMDS is down', async () => {
    const port = await closedPort();
    const err = await fetchImdsMetadata('local-ipv4', { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}` } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MetadataError);
    expect((err as MetadataError).message).toMatch(/unreachable \(ECONNREFUSED\)/);
  });

  it('reports disabled metadata and missing paths', async () => {
    await expect(fetchImdsMetadata('no-such-thing', { env: env() })).rejects.toThrow(/HTTP 404/);
    aws.handler.state.disabled = true;
    await expect(fetchImdsMetadata('local-ipv4', { env: env() })).rejects.toThrow(/disabled/);
  });

  it('honours the caller abort signal', async () => {
    aws.handler.state.hopLimitExceeded = true;
    const controller = new AbortController();
    const pending = fetchImdsMetadata('local-ipv4', { env: env(), signal: controller.signal, timeoutMs: 30_000 });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
  });

  it('reports a dropped connection as unreachable, and counts calls per action', async () => {
    aws.emulator.inject('imds:PUT /latest/api/token', 'drop');
    await expect(fetchImdsMetadata('local-ipv4', { env: env() })).rejects.toThrow(/unreachable/);
    expect(aws.emulator.calls('imds:')).toBe(1);
    expect(aws.emulator.callCounts()).toEqual({ 'imds:PUT /latest/api/token': 1 });
  });

  it('answers 401 to a GET without a token (the emulator enforces IMDSv2)', async () => {
    const res = await fetch(`${aws.emulator.url}/latest/meta-data/local-ipv4`);
    expect(res.status).toBe(401);
  });
});

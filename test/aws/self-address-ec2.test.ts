import os from 'node:os';
import { beforeEach, describe, expect, it } from 'vitest';
import { resolveSelfAddress } from '../../src/self-address/index.js';
import { resolveEc2SelfAddress } from '../../src/self-address/ec2.js';
import { ConfigError, MetadataError, ProtocolError } from '../../src/errors.js';
import { useImdsEmulator } from './emulator-helpers.js';

const aws = useImdsEmulator();
const env = aws.env;
beforeEach(() => {
  aws.handler.state.metadata['local-ipv4'] = '10.0.1.17';
});

/** The single non-internal IPv4 of this machine, when there is exactly one (auto's interface fallback). */
const singleInterface = (() => {
  const v4 = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((i) => i.family === 'IPv4' && !i.internal);
  return v4.length === 1 ? v4[0]!.address : undefined;
})();

describe('self-address mode ec2', () => {
  it('reads local-ipv4 through an IMDSv2 token', async () => {
    expect(await resolveSelfAddress({ mode: 'ec2', env: env() })).toEqual({ host: '10.0.1.17', source: 'ec2' });
    expect(aws.emulator.calls('imds:PUT /latest/api/token')).toBe(1);
  });

  it('rejects a local-ipv4 that is not an IPv4 address', async () => {
    aws.handler.state.metadata['local-ipv4'] = '<html>captive portal</html>';
    await expect(resolveEc2SelfAddress({ env: env() })).rejects.toBeInstanceOf(ProtocolError);
  });

  it('refuses when AWS_EC2_METADATA_DISABLED=true', async () => {
    await expect(resolveEc2SelfAddress({ env: { ...env(), AWS_EC2_METADATA_DISABLED: 'true' } })).rejects.toThrow(/AWS_EC2_METADATA_DISABLED/);
  });

  it('explains the hop limit when the token never arrives', async () => {
    aws.handler.state.hopLimitExceeded = true;
    const err = (await resolveSelfAddress({ mode: 'ec2', env: env(), timeoutMs: 200 }).catch((e: unknown) => e)) as MetadataError;
    expect(err).toBeInstanceOf(MetadataError);
    expect(err.hint).toMatch(/hop limit set to 2/);
  });

  it('rejects an unknown mode', async () => {
    await expect(resolveSelfAddress({ mode: 'k8s' as never })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('self-address mode auto', () => {
  it('uses IMDS when AWS_EC2_METADATA_SERVICE_ENDPOINT is set, and its errors are final', async () => {
    expect(await resolveSelfAddress({ env: env() })).toEqual({ host: '10.0.1.17', source: 'ec2' });
    aws.handler.state.disabled = true;
    await expect(resolveSelfAddress({ env: env() })).rejects.toBeInstanceOf(MetadataError);
  });

  it('prefers ECS metadata when ECS_CONTAINER_METADATA_URI_V4 is set', async () => {
    // The ECS endpoint is not served here: the ECS branch is taken (and fails), IMDS is never asked.
    await expect(resolveSelfAddress({ env: { ...env(), ECS_CONTAINER_METADATA_URI_V4: `${aws.emulator.url}/v4/none` }, timeoutMs: 2000 })).rejects.toThrow();
    expect(aws.emulator.calls('imds:')).toBe(0);
  });

  it.runIf(singleInterface !== undefined)('falls back to the interface when IMDS is disabled', async () => {
    expect(await resolveSelfAddress({ env: { AWS_EC2_METADATA_DISABLED: 'true' } })).toEqual({ host: singleInterface, source: 'interface' });
  });
});

import net from 'node:net';
import { MetadataError, ProtocolError } from '../errors.js';
import { ImdsClient } from './imds.js';
import type { ResolveSelfAddressOptions, SelfAddress } from './index.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The AWS SDKs' switch for "never call IMDS". */
export function imdsDisabled(env: Env): boolean {
  return env.AWS_EC2_METADATA_DISABLED?.trim().toLowerCase() === 'true';
}

/** This EC2 instance's primary private IPv4, from IMDSv2 `local-ipv4` (DESIGN §5.4, mode "ec2"). */
export async function resolveEc2SelfAddress(options: ResolveSelfAddressOptions = {}): Promise<SelfAddress> {
  const env = options.env ?? process.env;
  if (imdsDisabled(env)) {
    throw new MetadataError('self.mode "ec2" needs the instance metadata service, but AWS_EC2_METADATA_DISABLED=true', {
      retriable: false,
      hint: 'unset AWS_EC2_METADATA_DISABLED, or use self.mode "interface" or an explicit self.host',
    });
  }
  return { host: await instancePrivateIpv4(options, env), source: 'ec2' };
}

/** The EC2 instance's primary private IPv4 (IMDSv2 `local-ipv4`); also the host of ECS bridge/host tasks. */
export async function instancePrivateIpv4(options: ResolveSelfAddressOptions, env: Env): Promise<string> {
  const imds = new ImdsClient({
    env,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.allowImdsV1 ? { allowImdsV1: true } : {}),
  });
  const host = await imds.getMetadata('local-ipv4', options.signal);
  if (!net.isIPv4(host)) {
    throw new ProtocolError(`IMDS local-ipv4 is not an IPv4 address: ${JSON.stringify(host.slice(0, 40))}`, {
      hint: `the endpoint ${imds.endpoint} must be the EC2 instance metadata service`,
    });
  }
  return host;
}

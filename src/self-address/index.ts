import { ConfigError, MetadataError } from '../errors.js';
import { imdsDisabled, resolveEc2SelfAddress } from './ec2.js';
import { resolveEcsSelfAddress } from './ecs.js';
import { ECS_METADATA_ENV } from './ecs-metadata.js';
import { resolveInterfaceAddress } from './interface.js';
import { KUBERNETES_ENV, POD_IP_ENV, resolveKubernetesSelfAddress } from './kubernetes.js';

import { SELF_ADDRESS_MODES, type SelfAddressMode } from './modes.js';

export { SELF_ADDRESS_MODES, type SelfAddressMode };

export interface ResolveSelfAddressOptions {
  mode?: SelfAddressMode;
  /** mode=interface: interface name or CIDR. */
  interface?: string;
  /** mode=ecs, bridge networking: the container port whose host port is advertised. */
  containerPort?: number;
  /** Allow IMDSv1 when IMDSv2 fails (off by default). */
  allowImdsV1?: boolean;
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Bound of every metadata call [2000 ms]. */
  timeoutMs?: number;
}

export interface SelfAddress {
  host: string;
  /** Known in ECS bridge/host mode (the mapped host port of containerPort). */
  port?: number;
  /** Which source answered: 'ecs-awsvpc' | 'ecs-bridge' | 'kubernetes-pod-ip' | 'kubernetes-interface' | 'ec2' | 'interface'. */
  source: string;
}

/**
 * The address this node advertises (DESIGN §5.4). `auto` tries ECS metadata when
 * ECS_CONTAINER_METADATA_URI_V4 is set, then Kubernetes (POD_IP or KUBERNETES_SERVICE_HOST), then EC2 IMDSv2 when AWS_EC2_METADATA_SERVICE_ENDPOINT is set
 * or on EC2, then the single non-internal interface.
 */
export async function resolveSelfAddress(options: ResolveSelfAddressOptions = {}): Promise<SelfAddress> {
  const mode = options.mode ?? 'auto';
  switch (mode) {
    case 'ecs':
      return resolveEcsSelfAddress(options);
    case 'kubernetes':
      return resolveKubernetesSelfAddress(options);
    case 'ec2':
      return resolveEc2SelfAddress(options);
    case 'interface':
      return { host: resolveInterfaceAddress(options.interface), source: 'interface' };
    case 'auto':
      return resolveAuto(options);
    default:
      throw new ConfigError(`self.mode: expected one of ${SELF_ADDRESS_MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
}

/** How long `auto` waits for IMDS when nothing in the environment says we are on EC2. */
const IMDS_PROBE_MS = 1000;

/**
 * `auto`, by environment: ECS metadata when ECS_CONTAINER_METADATA_URI_V4 is set (the ECS agent sets
 * it in every task); Kubernetes when POD_IP or KUBERNETES_SERVICE_HOST is set (a pod on EC2 must
 * advertise its pod IP, not the node's, so it comes before IMDS); EC2 IMDSv2 when AWS_EC2_METADATA_SERVICE_ENDPOINT is set or IMDS answers within
 * a second; else the single non-internal interface. Once a source is chosen its errors are final:
 * falling back from ECS to the interface would advertise the container's bridge address.
 */
async function resolveAuto(options: ResolveSelfAddressOptions): Promise<SelfAddress> {
  const env = options.env ?? process.env;
  if (env[ECS_METADATA_ENV]?.trim()) return resolveEcsSelfAddress(options);
  if (env[POD_IP_ENV]?.trim() || env[KUBERNETES_ENV]?.trim()) return resolveKubernetesSelfAddress(options);
  if (env.AWS_EC2_METADATA_SERVICE_ENDPOINT?.trim()) return resolveEc2SelfAddress(options);
  if (!imdsDisabled(env)) {
    try {
      return await resolveEc2SelfAddress({ ...options, timeoutMs: Math.min(options.timeoutMs ?? IMDS_PROBE_MS, IMDS_PROBE_MS) });
    } catch (err) {
      // Not on EC2 (IMDS unreachable or silent): the interface decides. The caller's abort is final.
      if (options.signal?.aborted || !(err instanceof MetadataError)) throw err;
    }
  }
  return { host: resolveInterfaceAddress(options.interface), source: 'interface' };
}

import { resolveEcsSelfAddress } from './ecs.js';
import { resolveInterfaceAddress } from './interface.js';

export type SelfAddressMode = 'auto' | 'ecs' | 'ec2' | 'interface';

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
  /** Which source answered: 'ecs-awsvpc' | 'ecs-bridge' | 'ec2' | 'interface'. */
  source: string;
}

/**
 * The address this node advertises (DESIGN §5.4). `auto` tries ECS metadata when
 * ECS_CONTAINER_METADATA_URI_V4 is set, then EC2 IMDSv2 when AWS_EC2_METADATA_SERVICE_ENDPOINT is set
 * or on EC2, then the single non-internal interface.
 */
export async function resolveSelfAddress(options: ResolveSelfAddressOptions = {}): Promise<SelfAddress> {
  const mode = options.mode ?? 'auto';
  switch (mode) {
    case 'ecs':
      return resolveEcsSelfAddress(options);
    case 'interface':
    case 'auto': // ecs/ec2 detection is added by the AWS module
      return { host: resolveInterfaceAddress(options.interface), source: 'interface' };
    default:
      throw new Error(`self-address mode "${mode}" is not available in this version`);
  }
}

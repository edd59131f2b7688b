import net from 'node:net';
import { ConfigError, MetadataError, ProtocolError } from '../errors.js';
import { fetchContainerMetadata, type ContainerMetadata } from './ecs-metadata.js';
import { instancePrivateIpv4 } from './ec2.js';
import type { ResolveSelfAddressOptions, SelfAddress } from './index.js';

/*
 * Self address inside an ECS task (DESIGN §5.4), from the task metadata endpoint v4:
 * - awsvpc (Fargate, or EC2 with awsvpc): this container's Networks[].IPv4Addresses[0], the task ENI;
 * - bridge/host (EC2): the container instance's private IP (IMDSv2 local-ipv4; the container needs
 *   an IMDS hop limit of 2 in bridge mode) and this container's host port for `containerPort`.
 * This replaces "Docker Mirror" sidecars and Pekko's getContainerAddress.
 */

export async function resolveEcsSelfAddress(options: ResolveSelfAddressOptions = {}): Promise<SelfAddress> {
  const env = options.env ?? process.env;
  const container = await fetchContainerMetadata({
    env,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const networks = container.Networks ?? [];
  if (networks.length === 0) {
    throw new ProtocolError(`ECS container metadata of "${container.Name}": field Networks is missing or empty`, {
      hint: 'the ECS agent reports Networks once the container runs; retry, or check the agent version (1.39.0+)',
    });
  }
  const awsvpc = networks.find((n) => n.NetworkMode === 'awsvpc');
  if (awsvpc) {
    const ip = awsvpc.IPv4Addresses?.[0];
    if (ip === undefined) {
      throw new ProtocolError(`ECS container metadata of "${container.Name}": field Networks[${networks.indexOf(awsvpc)}].IPv4Addresses is empty`, {
        hint: 'IPv6-only tasks are not supported by self.mode "ecs"; set self.host explicitly',
      });
    }
    if (!net.isIPv4(ip)) {
      throw new ProtocolError(
        `ECS container metadata of "${container.Name}": field Networks[${networks.indexOf(awsvpc)}].IPv4Addresses[0] ` +
          `is not an IPv4 address: ${JSON.stringify(ip)}`,
      );
    }
    return { host: ip, source: 'ecs-awsvpc' };
  }

  const mode = networks[0]!.NetworkMode === 'host' ? 'host' : 'bridge';
  const port = hostPortOf(container, options.containerPort, mode);
  const host = await instancePrivateIpv4(options, env);
  return { host, ...(port !== undefined ? { port } : {}), source: `ecs-${mode}` };
}

/**
 * This container's host port for `containerPort` (bridge: assigned by Docker, often random with
 * `hostPort: 0`). Without `containerPort` the container's only mapped port is used; several are an
 * error that lists them, never a guess.
 */
function hostPortOf(container: ContainerMetadata, containerPort: number | undefined, mode: 'bridge' | 'host'): number | undefined {
  const ports = (container.Ports ?? []).filter((p) => p.Protocol === undefined || p.Protocol === 'tcp');
  const mapped = [...new Set(ports.map((p) => p.ContainerPort))];
  let wanted = containerPort;
  if (wanted === undefined) {
    if (mode === 'host') return undefined; // host networking: the bound port is the advertised port
    if (mapped.length !== 1) {
      throw new ConfigError(
        mapped.length === 0
          ? `self.containerPort: container "${container.Name}" maps no ports, so bridge mode has no host port to advertise`
          : `self.containerPort: container "${container.Name}" maps several ports (${mapped.join(', ')}); say which one peers use`,
        {
          hint: 'set --container-port (self.containerPort) to the management port inside the container, and map it in the task definition (hostPort 0 is fine)',
        },
      );
    }
    wanted = mapped[0]!;
  }
  // The agent reports one entry per host IP family; the IPv4 one ("0.0.0.0" or no HostIp) is preferred.
  const candidates = ports.filter((p) => p.ContainerPort === wanted).sort((a, b) => Number(net.isIPv6(a.HostIp ?? '')) - Number(net.isIPv6(b.HostIp ?? '')));
  const chosen = candidates.find((p) => p.HostPort !== undefined && p.HostPort > 0);
  if (!chosen) {
    if (mode === 'host') return wanted;
    throw new MetadataError(`container "${container.Name}" has no host port mapped to container port ${wanted} (mapped: ${mapped.join(', ') || 'none'})`, {
      retriable: candidates.length > 0, // listed but not bound yet: the agent fills it in shortly
      hint: `add {"containerPort": ${wanted}, "hostPort": 0} to portMappings of "${container.Name}" in the task definition`,
    });
  }
  return chosen.HostPort;
}

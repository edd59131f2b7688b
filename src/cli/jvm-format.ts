import net from 'node:net';
import { ConfigError } from '../errors.js';
import type { ContactPoint } from '../types.js';
import { UsageError } from './io.js';

/** How seeds become Pekko/Akka cluster addresses (`pekko://System@host:port`). */
export interface JvmSeedOptions {
  /** The ActorSystem name: it is part of every node address, so it must match the application's. */
  system: string;
  protocol: 'pekko' | 'akka';
  /** The remoting port of every seed; without it, each seed's own (discovered) port. */
  remotePort?: number;
}

/** Flags of the formats that print JVM seed nodes (parseArgs option shapes). */
export const jvmFlags = {
  system: { type: 'string' },
  protocol: { type: 'string' },
  'remote-port': { type: 'string' },
} as const;

// Pekko's ActorSystem name rule (ActorSystem.apply rejects anything else).
const SYSTEM_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;

/**
 * Validates `--system/--protocol/--remote-port` for a format: required (system) for hocon/java-opts,
 * refused for the others so a typo'd format does not silently drop them.
 */
export function parseJvmFlags(
  values: { system?: string | undefined; protocol?: string | undefined; 'remote-port'?: string | undefined },
  format: string,
): JvmSeedOptions | undefined {
  const needsJvm = format === 'hocon' || format === 'java-opts';
  if (!needsJvm) {
    const given = (['system', 'protocol', 'remote-port'] as const).filter((k) => values[k] !== undefined);
    if (given.length > 0) throw new UsageError(`--${given[0]} only applies to --format hocon or java-opts`, { hint: 'add --format hocon, or drop the flag' });
    return undefined;
  }
  if (values.system === undefined) {
    throw new UsageError(`--format ${format} needs --system NAME (the ActorSystem name)`, {
      hint: `e.g. --format ${format} --system products --remote-port 25520`,
    });
  }
  if (!SYSTEM_NAME.test(values.system)) {
    throw new UsageError(`--system: "${values.system}" is not a valid ActorSystem name`, {
      hint: 'use letters, digits, "-" and "_", starting with a letter or digit',
    });
  }
  const protocol = values.protocol ?? 'pekko';
  if (protocol !== 'pekko' && protocol !== 'akka') {
    throw new UsageError(`--protocol: expected one of pekko, akka, got "${protocol}"`, { hint: 'e.g. --protocol akka for Akka 2.6+' });
  }
  const options: JvmSeedOptions = { system: values.system, protocol };
  const portText = values['remote-port'];
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new UsageError(`--remote-port: expected integer 1-65535, got "${portText}"`, { hint: 'the remoting (Artery) port, e.g. 25520' });
    }
    options.remotePort = Number(portText);
  }
  return options;
}

/** `pekko://System@host:port` for every seed, first seed first; IPv6 hosts in brackets. */
export function seedNodeAddresses(seeds: readonly ContactPoint[], options: JvmSeedOptions): string[] {
  return seeds.map((seed) => {
    const port = options.remotePort ?? seed.port;
    if (port === undefined) {
      throw new ConfigError(`seed ${seed.host} has no port, so its ${options.protocol} address is unknown`, {
        hint: 'pass --remote-port with the remoting port every node listens on',
      });
    }
    const host = net.isIPv6(seed.host) ? `[${seed.host}]` : seed.host;
    return `${options.protocol}://${options.system}@${host}:${port}`;
  });
}

/** One HOCON line: `pekko.cluster.seed-nodes = ["pekko://S@10.0.1.7:25520", …]` (JSON strings are HOCON strings). */
export function formatHocon(seeds: readonly ContactPoint[], options: JvmSeedOptions): string {
  const list = seedNodeAddresses(seeds, options)
    .map((a) => JSON.stringify(a))
    .join(', ');
  return `${options.protocol}.cluster.seed-nodes = [${list}]\n`;
}

/** `-Dpekko.cluster.seed-nodes.0=pekko://S@host:port …` for JAVA_OPTS (Typesafe Config reads indexed system properties as a list). */
export function formatJavaOpts(seeds: readonly ContactPoint[], options: JvmSeedOptions): string {
  return `${seedNodeAddresses(seeds, options)
    .map((a, i) => `-D${options.protocol}.cluster.seed-nodes.${i}=${a}`)
    .join(' ')}\n`;
}

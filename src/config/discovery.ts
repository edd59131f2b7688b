import { z } from 'zod';
import * as ec2 from '../../providers/aws-ec2-tags/options.js';
import * as ecs from '../../providers/aws-ecs/options.js';
import * as ecsTaskSet from '../../providers/aws-ecs-task-set/options.js';
import * as consul from '../../providers/consul/options.js';
import * as dns from '../../providers/dns/options.js';
import * as etcd from '../../providers/etcd/options.js';
import * as file from '../../providers/file/options.js';
import * as kubernetes from '../../providers/kubernetes-api/options.js';
import * as staticList from '../../providers/static/options.js';
import * as zookeeper from '../../providers/zookeeper/options.js';

/*
 * Only the providers' option schemas are imported here (zod, no client libraries): config is
 * validated before any provider module is loaded, and `import 'clusterseed'` stays light.
 */

export const method = 'aggregate';
export const aliases = [] as const;

export const AggregateOptions = z.strictObject({
  method: z.enum([method]),
  /** Tried in order; the first non-empty success wins. */
  get methods() {
    return z.array(DiscoveryConfigInput).min(1, { error: 'expected at least one method' });
  },
});

const members = [
  staticList.StaticOptions,
  file.FileOptions,
  dns.DnsOptions,
  ec2.Ec2TagsOptions,
  ecs.EcsOptions,
  ecsTaskSet.EcsTaskSetOptions,
  consul.ConsulOptions,
  zookeeper.ZookeeperOptions,
  etcd.EtcdOptions,
  kubernetes.KubernetesApiOptions,
  AggregateOptions,
] as const;

const modules = [staticList, file, dns, ec2, ecs, ecsTaskSet, consul, zookeeper, etcd, kubernetes, { method, aliases }];

/** Canonical method name for every accepted name (Pekko/Akka aliases included). */
export const METHOD_NAMES: ReadonlyMap<string, string> = new Map(
  modules.flatMap((m) => [[m.method, m.method] as const, ...m.aliases.map((a) => [a, m.method] as const)]),
);
export const CANONICAL_METHODS: readonly string[] = modules.map((m) => m.method);

export function canonicalMethod(name: string): string | undefined {
  return METHOD_NAMES.get(name);
}

/** The options schema for a method or alias (used by the one-line parser to coerce values). */
export function optionsSchemaFor(name: string): z.ZodObject | undefined {
  const canonical = canonicalMethod(name);
  if (!canonical) return undefined;
  return members.find((m) => (m.shape.method.options as readonly string[]).includes(canonical)) as z.ZodObject | undefined;
}

const DiscoveryConfigInput = z.discriminatedUnion('method', members);

/** A discovery block; aliases are rewritten to the canonical method name. */
export const DiscoveryConfig = DiscoveryConfigInput.transform(canonicalizeMethods);

function canonicalizeMethods<T extends { method: string }>(config: T): T {
  const out: Record<string, unknown> = { ...config, method: canonicalMethod(config.method) ?? config.method };
  if (Array.isArray((config as { methods?: unknown }).methods)) {
    out.methods = (config as unknown as { methods: { method: string }[] }).methods.map(canonicalizeMethods);
  }
  return out as T;
}

export type DiscoveryConfig = z.output<typeof DiscoveryConfig>;
export type DiscoveryConfigInput = z.input<typeof DiscoveryConfig>;
export type AggregateOptions = z.output<typeof AggregateOptions>;

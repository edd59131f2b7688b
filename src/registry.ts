import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { canonicalMethod, CANONICAL_METHODS, DiscoveryConfig, type DiscoveryConfigInput } from './config/discovery.js';
import { configErrorFrom, describeIssues } from './config/issues.js';
import { ConfigError } from './errors.js';
import { instrument } from './instrument.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { DiscoveryProvider, ProviderContext, ProviderDefinition } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each module has its own options type
type ProviderModule = { definition: ProviderDefinition<any> };

/*
 * Method → lazy import of its module. Nothing here loads a client library until a method is used,
 * so `import 'clusterseed'` stays cheap (see bench/import-time).
 */
const loaders: Record<string, () => Promise<ProviderModule>> = {
  static: () => import('../providers/static/index.js'),
  file: () => import('../providers/file/index.js'),
  aggregate: () => import('../providers/aggregate/index.js'),
  dns: () => import('../providers/dns/index.js'),
  'aws-ec2-tags': () => import('../providers/aws-ec2-tags/index.js'),
  'aws-ecs': () => import('../providers/aws-ecs/index.js'),
  'aws-ecs-task-set': () => import('../providers/aws-ecs-task-set/index.js'),
  consul: () => import('../providers/consul/index.js'),
  zookeeper: () => import('../providers/zookeeper/index.js'),
  etcd: () => import('../providers/etcd/index.js'),
  'kubernetes-api': () => import('../providers/kubernetes-api/index.js'),
};

export async function loadProviderDefinition(name: string): Promise<ProviderModule["definition"]> {
  const method = canonicalMethod(name);
  const load = method ? loaders[method] : undefined;
  if (!load) {
    throw new ConfigError(`discovery.method: unknown method "${name}"`, { hint: `use one of ${CANONICAL_METHODS.join(', ')}` });
  }
  return (await load()).definition;
}

export interface CreateDiscoveryOptions {
  logger?: Logger;
  clock?: Clock;
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Default timeout of one lookup when the caller gives none [10000 ms]. */
  timeoutMs?: number;
}

/** Validates a discovery block, loads its provider module and creates the provider. */
export async function createDiscovery(
  config: DiscoveryConfigInput | DiscoveryConfig,
  options: CreateDiscoveryOptions = {},
): Promise<DiscoveryProvider> {
  const parsed = DiscoveryConfig.safeParse(config, { reportInput: true });
  if (!parsed.success) {
    throw configErrorFrom(describeIssues(parsed.error.issues.map((i) => ({ ...i, path: ['discovery', ...i.path] }))));
  }
  const context: ProviderContext = {
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    env: options.env ?? process.env,
    ...(options.signal ? { signal: options.signal } : {}),
    createDiscovery: (nested) => createDiscovery(nested as DiscoveryConfigInput, options),
  };
  const definition = await loadProviderDefinition(parsed.data.method);
  return instrument(await definition.create(parsed.data as never, context), options.timeoutMs);
}

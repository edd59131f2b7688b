import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { canonicalMethod, CANONICAL_METHODS, DiscoveryConfig, type DiscoveryConfigInput } from './config/discovery.js';
import { configErrorFrom, describeIssues } from './config/issues.js';
import { ConfigError } from './errors.js';
import { instrument } from './instrument.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { DiscoveryProvider, ProviderContext, ProviderDefinition } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: each module has its own options type
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

/*
 * The platform clients are optional peer dependencies (package.json `peerDependencies`, with
 * `peerDependenciesMeta` optional): an install of clusterseed alone carries none of them, and a method
 * whose client is missing fails with a ConfigError that names the npm command to run. The ranges are
 * package.json's (test/package/peers.test.ts keeps the two in step, and checks from the providers'
 * imports that each method lists every client it loads). docs/installing.md says why
 * node-zookeeper-client is pinned exactly.
 */
export const PEER_CLIENT_RANGES: Readonly<Record<string, string>> = {
  '@aws-sdk/client-ec2': '^3.1169.0',
  '@aws-sdk/client-ecs': '^3.1162.0',
  etcd3: '^1.1.2',
  'node-zookeeper-client': '1.1.3',
};

/** Method → the optional peer packages its module imports (methods not listed need none). */
export const METHOD_PEER_CLIENTS: Readonly<Record<string, readonly string[]>> = {
  'aws-ec2-tags': ['@aws-sdk/client-ec2'],
  'aws-ecs': ['@aws-sdk/client-ecs', '@aws-sdk/client-ec2'],
  'aws-ecs-task-set': ['@aws-sdk/client-ecs', '@aws-sdk/client-ec2'],
  zookeeper: ['node-zookeeper-client'],
  etcd: ['etcd3'],
};

/** The package an import failure could not find, when it is one (not a missing file inside a package). */
export function missingPackageOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== 'object' || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND')) return undefined;
  // ESM: "Cannot find package 'etcd3' imported from …"; require(): "Cannot find module 'node-zookeeper-client/lib/…'"
  const m = /Cannot find (?:package|module) '([^']+)'/.exec(typeof e.message === 'string' ? e.message : '');
  const specifier = m?.[1];
  if (!specifier || specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The `npm install …` command that adds a method's clients [undefined: the method needs none]. */
export function installCommandFor(method: string): string | undefined {
  const packages = METHOD_PEER_CLIENTS[method];
  return packages ? `npm install ${packages.map((p) => `${p}@${PEER_CLIENT_RANGES[p]}`).join(' ')}` : undefined;
}

export async function loadProviderDefinition(name: string): Promise<ProviderModule['definition']> {
  const method = canonicalMethod(name);
  const load = method ? loaders[method] : undefined;
  if (!method || !load) {
    throw new ConfigError(`discovery.method: unknown method "${name}"`, { hint: `use one of ${CANONICAL_METHODS.join(', ')}` });
  }
  try {
    return (await load()).definition;
  } catch (err) {
    const missing = missingPackageOf(err);
    const clients = METHOD_PEER_CLIENTS[method] ?? [];
    if (missing === undefined || !clients.includes(missing)) throw err;
    const what =
      clients.length === 1 ? `the package ${missing}, which is not installed` : `the packages ${clients.join(' and ')} (${missing} is not installed)`;
    throw new ConfigError(`discovery.method "${method}" needs ${what}`, {
      hint: `${installCommandFor(method)} (see docs/installing.md)`,
      cause: err,
    });
  }
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
export async function createDiscovery(config: DiscoveryConfigInput | DiscoveryConfig, options: CreateDiscoveryOptions = {}): Promise<DiscoveryProvider> {
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

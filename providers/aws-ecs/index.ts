import { ConfigError } from '../../src/errors.js';
import type { ContactPoint, DiscoveryProvider, Lookup, ProviderContext, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import { EcsApi } from './client.js';
import { aliases, method, EcsOptions } from './options.js';

/**
 * `aws-ecs`: every RUNNING task of an ECS service (ListTasks → DescribeTasks), reachable at its ENI
 * address (awsvpc) or at its EC2 host's private IP and mapped host port (bridge/host).
 * API calls per resolve: see providers/aws-ecs/discover.ts and docs/providers/aws-ecs.md.
 */
export class EcsProvider implements DiscoveryProvider {
  readonly method = method;
  readonly api: EcsApi;
  readonly #options: EcsOptions;
  readonly #context: ProviderContext;

  constructor(options: EcsOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    this.api = new EcsApi(options, context);
  }

  /** API calls of the last resolve, by IAM action (retries included). */
  get lastResolveCalls(): Record<string, number> {
    return this.api.lastResolveCalls;
  }

  resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const signal = options.signal ?? this.#context.signal;
    const query = { cluster: this.#options.cluster, serviceName: this.#options.serviceName ?? lookup.service };
    return this.api.track((counter) => this.api.discover(query, this.#options.tags, signal, counter));
  }

  async close(): Promise<void> {
    this.api.close();
  }
}

/** Bridge networking assigns host ports per task: without containerPort there is nothing to report. */
export function checkNetworkOptions(options: { networkMode: string; containerPort?: number | undefined }): void {
  if (options.networkMode === 'bridge' && options.containerPort === undefined) {
    throw new ConfigError('discovery.containerPort: required with networkMode "bridge" (which container port\'s host port to report)', {
      hint: 'set containerPort to the port your management endpoint listens on inside the container, e.g. containerPort=7626',
    });
  }
}

export const definition: ProviderDefinition<EcsOptions> = {
  method,
  aliases,
  options: EcsOptions,
  create(options, context) {
    checkNetworkOptions(options);
    return new EcsProvider(options, context);
  },
};

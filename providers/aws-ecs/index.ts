import { ConfigError } from '../../src/errors.js';
import type { ContactPoint, Lookup, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import { aliases, method, EcsOptions } from './options.js';
import { EcsApiProvider } from './provider-base.js';

/**
 * `aws-ecs`: every RUNNING task of an ECS service (ListTasks → DescribeTasks), reachable at its ENI
 * address (awsvpc) or at its EC2 host's private IP and mapped host port (bridge/host).
 * API calls per resolve: see providers/aws-ecs/discover.ts and docs/providers/aws-ecs.md.
 */
export class EcsProvider extends EcsApiProvider<EcsOptions> {
  readonly method = method;

  resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const signal = options.signal ?? this.context.signal;
    const query = { cluster: this.options.cluster, serviceName: this.options.serviceName ?? lookup.service };
    return this.api.track((counter) => this.api.discover(query, this.options.tags, signal, counter));
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

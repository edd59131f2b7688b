import type { ContactPoint, DiscoveryProvider, Lookup, ProviderContext, ResolveOptions } from '../../src/types.js';
import { EcsApi, type EcsClientOptions } from './client.js';

/**
 * What aws-ecs and aws-ecs-task-set share as providers: one EcsApi (clients, call counting, host
 * cache) built from the options, its per-resolve call figures, and close(). Each subclass says which
 * tasks to list.
 */
export abstract class EcsApiProvider<Options extends EcsClientOptions> implements DiscoveryProvider {
  abstract readonly method: string;
  readonly api: EcsApi;
  protected readonly options: Options;
  protected readonly context: ProviderContext;

  constructor(options: Options, context: ProviderContext) {
    this.options = options;
    this.context = context;
    this.api = new EcsApi(options, context);
  }

  /** API calls of the last resolve, by IAM action (retries included). */
  get lastResolveCalls(): Record<string, number> {
    return this.api.lastResolveCalls;
  }

  abstract resolve(lookup: Lookup, options?: ResolveOptions): Promise<ContactPoint[]>;

  async close(): Promise<void> {
    this.api.close();
  }
}

import { DiscoveryError, ClusterseedError } from '../../src/errors.js';
import { describeError } from '../../src/errors.js';
import type { DiscoveryProvider, Lookup, ProviderContext, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import { AggregateOptions, aliases, method } from './options.js';

/**
 * Tries its methods in order; the first non-empty success wins. When none returns contact points
 * and any of them failed, the answer is unknown, so it fails with every cause (never an empty list
 * that could make a node form a second cluster while the primary registry is down).
 */
export class AggregateProvider implements DiscoveryProvider {
  readonly method = method;
  readonly #configs;
  readonly #context;
  #providers: Promise<DiscoveryProvider>[] = [];

  constructor(options: AggregateOptions, context: ProviderContext) {
    this.#configs = options.methods;
    this.#context = context;
  }

  #provider(i: number): Promise<DiscoveryProvider> {
    this.#providers[i] ??= this.#context.createDiscovery(this.#configs[i] as never);
    return this.#providers[i]!;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}) {
    const errors: Error[] = [];
    for (let i = 0; i < this.#configs.length; i++) {
      const name = this.#configs[i]!.method;
      try {
        const points = await (await this.#provider(i)).resolve(lookup, options);
        if (points.length > 0) return points;
      } catch (err) {
        if (options.signal?.aborted) throw err;
        this.#context.logger.warn({ method: name, error: describeError(err) }, 'aggregate: method failed, trying the next');
        errors.push(err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (errors.length === 0) return [];
    throw new DiscoveryError(
      `aggregate: no method returned contact points and ${errors.length} of ${this.#configs.length} failed: ` +
        errors.map((e, i) => `[${i + 1}] ${describeError(e)}`).join('; '),
      {
        errors,
        cause: errors[0],
        retriable: errors.every((e) => !(e instanceof ClusterseedError) || e.retriable),
        hint: 'fix the failing method, or remove it from discovery.methods',
      },
    );
  }

  async close() {
    const settled = await Promise.allSettled(this.#providers);
    await Promise.allSettled(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.close()] : [])));
  }
}

export const definition: ProviderDefinition<AggregateOptions> = {
  method,
  aliases,
  options: AggregateOptions,
  create: (options, context) => new AggregateProvider(options, context),
};

import { canonicalize, parseHostPort } from '../../src/address.js';
import type { DiscoveryProvider, ProviderDefinition } from '../../src/types.js';
import { aliases, method, StaticOptions } from './options.js';

/** A fixed list from config: Pekko's `config` method. */
export class StaticProvider implements DiscoveryProvider {
  readonly method = method;
  readonly #points;
  constructor(options: StaticOptions) {
    this.#points = canonicalize(options.contactPoints.map(parseHostPort));
  }
  async resolve() {
    return this.#points.map((p) => ({ ...p }));
  }
  async close() {}
}

export const definition: ProviderDefinition<StaticOptions> = {
  method,
  aliases,
  options: StaticOptions,
  create: (options) => new StaticProvider(options),
};

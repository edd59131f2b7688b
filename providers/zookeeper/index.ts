import { ConfigError } from '../../src/errors.js';
import type { ProviderDefinition } from '../../src/types.js';
import { aliases, method, ZookeeperOptions } from './options.js';

// Not implemented yet: the options are validated, but creating the provider says so plainly.
export const definition: ProviderDefinition<ZookeeperOptions> = {
  method,
  aliases,
  options: ZookeeperOptions,
  create() {
    throw new ConfigError(`discovery method "${method}" is not available in this version`, {
      hint: 'see the status column of the methods table in README.md',
    });
  },
};

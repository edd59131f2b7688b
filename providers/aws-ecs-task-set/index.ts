import { ConfigError } from '../../src/errors.js';
import type { ProviderDefinition } from '../../src/types.js';
import { aliases, method, EcsTaskSetOptions } from './options.js';

// Not implemented yet: the options are validated, but creating the provider says so plainly.
export const definition: ProviderDefinition<EcsTaskSetOptions> = {
  method,
  aliases,
  options: EcsTaskSetOptions,
  create() {
    throw new ConfigError(`discovery method "${method}" is not available in this version`, {
      hint: 'see the status column of the methods table in README.md',
    });
  },
};

import { configJsonSchema } from '../../config/schema.js';
import { loadConfig } from '../../config/load.js';
import { UsageError, parseFlags, type CliIO } from '../io.js';

const USAGE = 'clusterseed config schema | clusterseed config check FILE';

export async function config(args: string[], io: CliIO): Promise<number> {
  const { positionals } = parseFlags(args, {}, USAGE, true);
  const [sub, file, ...rest] = positionals;
  if (sub === 'schema' && file === undefined) {
    io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return 0;
  }
  if (sub === 'check' && file !== undefined && rest.length === 0) {
    // Only the file is checked: the environment must not make a bad file pass or a good one fail.
    const parsed = await loadConfig({ file, env: {} });
    io.stdout.write(`${file}: ok (service "${parsed.service}", method ${parsed.discovery.method}, strategy ${parsed.bootstrap.strategy})\n`);
    return 0;
  }
  throw new UsageError(sub === undefined ? 'config: missing subcommand' : `config: unexpected arguments "${positionals.join(' ')}"`, {
    hint: `usage: ${USAGE}`,
  });
}

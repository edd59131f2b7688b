#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ClusterseedError, ConfigError, describeError } from '../errors.js';
import { createStreamLogger } from '../logger.js';
import { commands } from './commands/index.js';
import type { CliIO } from './io.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const names = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(14)}${c.summary}`).join('\n');
  return `clusterseed — peer discovery and seed-node bootstrap for clustered services

usage: clusterseed <command> [options]

commands:
${names}

global options: --verbose (debug logs, stack traces), --quiet (errors only), --help, --version
exit codes: 0 success, 1 runtime failure, 2 usage or configuration error
`;
}

/** Runs the CLI; returns the exit code. Exported for in-process tests. */
export async function main(argv: string[], io: Omit<CliIO, 'logger'> & { logger?: CliIO['logger'] }): Promise<number> {
  // Global flags are ours only before "--": what follows belongs to `run`'s command.
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const own = argv.slice(0, end);
  const verbose = own.includes('--verbose');
  const quiet = own.includes('--quiet');
  const args = [...own.filter((a) => a !== '--verbose' && a !== '--quiet'), ...argv.slice(end)];
  const logger = io.logger ?? createStreamLogger(io.stderr, { level: verbose ? 'debug' : quiet ? 'error' : 'info' });
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`clusterseed: unknown command "${name}" — run \`clusterseed --help\` for the list\n`);
    return 2;
  }
  try {
    return await (await command.load())(rest, { ...io, logger });
  } catch (err) {
    io.stderr.write(`clusterseed: ${describeError(err)}\n`);
    if (verbose && err instanceof Error) io.stderr.write(`${err.stack ?? ''}\n${err.cause ? `cause: ${String((err.cause as Error).stack ?? err.cause)}\n` : ''}`);
    if (err instanceof ConfigError) return 2;
    if (err instanceof ClusterseedError) return 1;
    if (!verbose) io.stderr.write('clusterseed: (unexpected error; run with --verbose for the stack trace)\n');
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.argv[1]?.endsWith('/clusterseed') || process.argv[1]?.endsWith('/main.js')) {
  // The AWS SDK prints a multi-line Node-version notice to stderr; the CLI's stderr contract is one
  // line per error, so it is off unless the user set the variable themselves.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(new Error(`received ${sig}`));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`clusterseed: ${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}

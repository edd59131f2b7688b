#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbortedError, ClusterseedError, ConfigError, describeError } from '../errors.js';
import { createStreamLogger } from '../logger.js';
import { commands } from './commands/index.js';
import type { CliIO } from './io.js';

/**
 * The version in clusterseed's own package.json, found by walking up from this module's directory:
 * dist/src/cli/main.js (built, installed) and src/cli/main.ts (sources, through tsx) sit at different
 * depths, and a package.json of another name on the way (a workspace, the user's project) is skipped.
 */
export function packageVersion(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    let pkg: { name?: unknown; version?: unknown } | undefined;
    try {
      pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as typeof pkg;
    } catch {
      // none here, or not JSON: look further up
    }
    if (pkg?.name === 'clusterseed' && typeof pkg.version === 'string') return pkg.version;
    if (path.dirname(dir) === dir) throw new Error(`no package.json named "clusterseed" above ${from}`);
  }
}

/** The reason of the CLI's AbortSignal when a signal stopped it. */
export class SignalReceived extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`received ${signal}`);
    this.name = 'SignalReceived';
  }
}

/**
 * A command interrupted by a signal exits as a shell reports it: 128 + the signal number (130 for
 * SIGINT, 143 for SIGTERM). Without a SignalReceived reason (an in-process caller's plain abort()) it
 * is taken for Ctrl-C.
 */
export function interruptedExitCode(reason: unknown): number {
  const signal = reason instanceof SignalReceived ? reason.signal : 'SIGINT';
  return 128 + (os.constants.signals[signal] ?? os.constants.signals.SIGINT);
}

function help(): string {
  const names = Object.entries(commands)
    .map(([n, c]) => `  ${n.padEnd(14)}${c.summary}`)
    .join('\n');
  return `clusterseed — peer discovery and seed-node bootstrap for clustered services

usage: clusterseed <command> [options]

commands:
${names}

global options: --verbose (debug logs, stack traces), --quiet (errors only), --help, --version
exit codes: 0 success, 1 runtime failure, 2 usage or configuration error, 130 interrupted (Ctrl-C)
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
    io.stdout.write(`${packageVersion()}\n`);
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
    if (verbose && err instanceof Error)
      io.stderr.write(`${err.stack ?? ''}\n${err.cause ? `cause: ${String((err.cause as Error).stack ?? err.cause)}\n` : ''}`);
    if (err instanceof ConfigError) return 2;
    // Interrupted by our own signal (e.g. Ctrl-C in demo). bootstrap and run never get
    // here: a signal before their decision is a graceful stop, exit 0 (DESIGN §4).
    if (err instanceof AbortedError && io.signal.aborted) return interruptedExitCode(io.signal.reason);
    if (err instanceof ClusterseedError) return 1;
    if (!verbose) io.stderr.write('clusterseed: (unexpected error; run with --verbose for the stack trace)\n');
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.argv[1]?.endsWith('/clusterseed') || process.argv[1]?.endsWith('/main.js')) {
  // The AWS SDK prints a multi-line Node-version notice to stderr; the CLI's stderr contract is one
  // line per error, so it is off unless the user set the variable themselves.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(new SignalReceived(sig));
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

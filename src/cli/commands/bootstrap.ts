import diagnostics_channel from 'node:diagnostics_channel';
import { startBootstrapNode, type BootstrapNode } from '../../bootstrap/index.js';
import { AbortedError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { configFlags, loadCliConfig, oneOf, parseFlags, parseMs, type CliIO } from '../io.js';
import { formatResult, RESULT_FORMATS, type ResultFormat } from '../result-format.js';
import { jvmFlags, parseJvmFlags } from '../jvm-format.js';

const USAGE =
  'clusterseed bootstrap [--config F] [--service S] [--discovery "method=…"] [--strategy lowest-address|lock] [--timeout MS] [--format json|env|hocon|java-opts [--system NAME] [--protocol pekko|akka] [--remote-port P]] [--exit]';

/** The CLI gives up after two minutes unless told otherwise (the API waits forever by default). */
export const CLI_BOOTSTRAP_TIMEOUT_MS = 120_000;

export const bootstrapFlags = {
  ...configFlags,
  strategy: { type: 'string' },
} as const;

/** Loads the config of a bootstrapping command: --timeout is bootstrapTimeoutMs, default 120000. */
export async function loadBootstrapConfig(
  values: { config?: string | undefined; service?: string | undefined; discovery?: string | undefined; timeout?: string | undefined; strategy?: string | undefined },
  io: CliIO,
): Promise<Config> {
  const timeoutMs = parseMs(values.timeout, 'timeout');
  const bootstrap: Record<string, unknown> = {};
  if (timeoutMs !== undefined) bootstrap['bootstrapTimeoutMs'] = timeoutMs;
  if (values.strategy !== undefined) bootstrap['strategy'] = oneOf(values.strategy, ['lowest-address', 'lock'] as const, 'strategy', 'lowest-address');
  const config = await loadCliConfig(values, io, Object.keys(bootstrap).length > 0 ? { bootstrap } : {});
  config.bootstrap.bootstrapTimeoutMs ??= CLI_BOOTSTRAP_TIMEOUT_MS;
  return config;
}

/**
 * Runs the coordinator for the CLI: the app joins on its own, so join() only acknowledges. On a
 * terminal, each change of what the node waits for is shown on stderr (DESIGN §7: progress).
 * Resolves to undefined when SIGTERM/SIGINT stopped it before a decision: a graceful stop (DESIGN §4:
 * exit 0), not a failure.
 */
export async function startCliNode(config: Config, io: CliIO): Promise<BootstrapNode | undefined> {
  const showProgress = io.stderr.isTTY === true;
  const onDecision = (message: unknown) => {
    const { waitingOn, detail } = message as { waitingOn?: string; detail?: string };
    if (waitingOn !== undefined) io.stderr.write(`clusterseed: waiting — ${waitingOn}${detail ? `: ${detail}` : ''}\n`);
  };
  if (showProgress) diagnostics_channel.subscribe('clusterseed:decision', onDecision);
  try {
    return await startBootstrapNode(config, { join: async () => {}, logger: io.logger, signal: io.signal, env: io.env });
  } catch (err) {
    if (io.signal.aborted && err instanceof AbortedError) return undefined;
    throw err;
  } finally {
    if (showProgress) diagnostics_channel.unsubscribe('clusterseed:decision', onDecision);
  }
}

/**
 * Keeps the node (endpoint + registration) alive until `signal` fires (SIGTERM/SIGINT), then closes
 * it: late joiners find the cluster through this endpoint, so a sidecar must not exit after deciding.
 */
export async function serveUntilSignal(node: BootstrapNode, signal: AbortSignal, logger: Logger): Promise<void> {
  if (!signal.aborted) {
    // A referenced handle keeps the process alive even if the endpoint's socket were the only one.
    const keepAlive = setInterval(() => {}, 1 << 30);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(keepAlive);
  }
  logger.info('shutting down: closing the endpoint and deregistering');
  await node.close();
}

export async function bootstrap(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { ...bootstrapFlags, ...jvmFlags, format: { type: 'string' }, exit: { type: 'boolean' } }, USAGE);
  const format: ResultFormat = oneOf(values.format, RESULT_FORMATS, 'format', 'json');
  const jvm = parseJvmFlags(values, format);
  const config = await loadBootstrapConfig(values, io);
  const node = await startCliNode(config, io);
  if (!node) {
    io.stderr.write('clusterseed: stopped by a signal before a decision\n');
    return 0;
  }
  let output: string;
  try {
    output = formatResult(node.result, format, { selfResolved: node.selfSource !== undefined, ...(jvm ? { jvm } : {}) });
  } catch (err) {
    // e.g. hocon for a seed without a port: deregister before reporting, or the endpoint keeps us alive.
    await node.close();
    throw err;
  }
  io.stdout.write(output);
  if (values.exit) {
    await node.close();
    return 0;
  }
  await serveUntilSignal(node, io.signal, io.logger);
  return 0;
}

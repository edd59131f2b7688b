import diagnostics_channel from 'node:diagnostics_channel';
import type { ClusterConflict } from '../../bootstrap/conflict.js';
import { startBootstrapNode, type BootstrapNode } from '../../bootstrap/index.js';
import { formatHostPort } from '../../address.js';
import { wirePoint } from '../../bootstrap/protocol.js';
import { AbortedError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import { configFlags, loadCliConfig, oneOf, parseFlags, parseMs, type CliIO } from '../io.js';
import { formatResult, RESULT_FORMATS, type ResultFormat } from '../result-format.js';
import { jvmFlags, parseJvmFlags } from '../jvm-format.js';

const USAGE =
  'clusterseed bootstrap [--config F] [--service S] [--discovery "method=…"] [--strategy lowest-address|lock] ' +
  '[--timeout MS] [--format json|env|hocon|java-opts [--system NAME] [--protocol pekko|akka] [--remote-port P]] [--exit]';

/** The CLI gives up after two minutes unless told otherwise (the API waits forever by default). */
export const CLI_BOOTSTRAP_TIMEOUT_MS = 120_000;

/** Exit code of a node that yielded in a cluster conflict (DESIGN §4): restart it into the survivor. */
export const EXIT_YIELDED = 3;

/** A decided CLI node, and the conflict it may yield in later (never settles when there is none). */
export interface CliNode {
  node: BootstrapNode;
  yielded: Promise<ClusterConflict>;
}

export const bootstrapFlags = {
  ...configFlags,
  strategy: { type: 'string' },
} as const;

/** Loads the config of a bootstrapping command: --timeout is bootstrapTimeoutMs, default 120000. */
export async function loadBootstrapConfig(
  values: {
    config?: string | undefined;
    service?: string | undefined;
    discovery?: string | undefined;
    timeout?: string | undefined;
    strategy?: string | undefined;
  },
  io: CliIO,
): Promise<Config> {
  const timeoutMs = parseMs(values.timeout, 'timeout');
  const bootstrap: Record<string, unknown> = {};
  if (timeoutMs !== undefined) bootstrap.bootstrapTimeoutMs = timeoutMs;
  if (values.strategy !== undefined) bootstrap.strategy = oneOf(values.strategy, ['lowest-address', 'lock'] as const, 'strategy', 'lowest-address');
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
export async function startCliNode(config: Config, io: CliIO): Promise<CliNode | undefined> {
  const showProgress = io.stderr.isTTY === true;
  const onDecision = (message: unknown) => {
    const { waitingOn, detail } = message as { waitingOn?: string; detail?: string };
    if (waitingOn !== undefined) io.stderr.write(`clusterseed: waiting — ${waitingOn}${detail ? `: ${detail}` : ''}\n`);
  };
  if (showProgress) diagnostics_channel.subscribe('clusterseed:decision', onDecision);
  let onConflict!: (c: ClusterConflict) => void;
  const yielded = new Promise<ClusterConflict>((resolve) => (onConflict = resolve));
  try {
    const node = await startBootstrapNode(config, { join: async () => {}, onConflict, logger: io.logger, signal: io.signal, env: io.env });
    return { node, yielded };
  } catch (err) {
    if (io.signal.aborted && err instanceof AbortedError) return undefined;
    throw err;
  } finally {
    if (showProgress) diagnostics_channel.unsubscribe('clusterseed:decision', onDecision);
  }
}

/**
 * Keeps the node (endpoint + registration) alive until `signal` fires (SIGTERM/SIGINT) or the node
 * yields in a conflict, then closes it: late joiners find the cluster through this endpoint, so a
 * sidecar must not exit after deciding. Resolves to the conflict when it yielded.
 */
export async function serveUntilSignal({ node, yielded }: CliNode, signal: AbortSignal, logger: Logger): Promise<ClusterConflict | undefined> {
  let conflict: ClusterConflict | undefined;
  if (!signal.aborted) {
    // A referenced handle keeps the process alive even if the endpoint's socket were the only one.
    const keepAlive = setInterval(() => {}, 1 << 30);
    conflict = await Promise.race([new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true })), yielded]);
    clearInterval(keepAlive);
  }
  logger.info(
    conflict
      ? 'yielding: closing the endpoint and deregistering; restart this node to join the surviving cluster'
      : 'shutting down: closing the endpoint and deregistering',
  );
  await node.close();
  return conflict;
}

export async function bootstrap(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { ...bootstrapFlags, ...jvmFlags, format: { type: 'string' }, exit: { type: 'boolean' } }, USAGE);
  const format: ResultFormat = oneOf(values.format, RESULT_FORMATS, 'format', 'json');
  const jvm = parseJvmFlags(values, format);
  const config = await loadBootstrapConfig(values, io);
  const started = await startCliNode(config, io);
  if (!started) {
    io.stderr.write('clusterseed: stopped by a signal before a decision\n');
    return 0;
  }
  const { node } = started;
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
  const conflict = await serveUntilSignal(started, io.signal, io.logger);
  if (!conflict) return 0;
  io.stdout.write(`${JSON.stringify({ conflict: conflictJson(conflict) })}\n`);
  io.stderr.write(
    `clusterseed: this node yielded in a cluster conflict (its cluster ${formatHostPort(conflict.ours.firstSeed)} ` +
      `lost to ${formatHostPort(conflict.theirs.firstSeed)}) — restart it to join the surviving cluster\n`,
  );
  return EXIT_YIELDED;
}

/** The `{"conflict":{…}}` line: contact points as {host, port}. */
export function conflictJson(c: ClusterConflict): Record<string, unknown> {
  return {
    strategy: c.strategy,
    yielding: c.yielding,
    ours: { firstSeed: wirePoint(c.ours.firstSeed), members: c.ours.members },
    theirs: { firstSeed: wirePoint(c.theirs.firstSeed), seeds: c.theirs.seeds.map(wirePoint), members: c.theirs.members },
  };
}

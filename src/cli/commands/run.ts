import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { formatHostPort } from '../../address.js';
import type { BootstrapNode } from '../../bootstrap/index.js';
import type { Logger } from '../../logger.js';
import { parseFlags, oneOf, UsageError, type CliIO } from '../io.js';
import { formatHocon, formatJavaOpts, jvmFlags, parseJvmFlags, type JvmSeedOptions } from '../jvm-format.js';
import { resultEnv } from '../result-format.js';
import { bootstrapFlags, EXIT_YIELDED, loadBootstrapConfig, startCliNode } from './bootstrap.js';

const USAGE =
  'clusterseed run [--config F] [--service S] [--discovery "method=…"] [--strategy lowest-address|lock] ' +
  '[--timeout MS] [--format hocon|java-opts --system NAME [--protocol pekko|akka] [--remote-port P]] -- COMMAND [ARGS…]';

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** After the wrapper dies, the watchdog waits this long between SIGTERM and SIGKILL of the child. */
const WATCHDOG_GRACE_SECONDS = 10;

/** Splits `[flags…] -- COMMAND [ARGS…]`; the command part is never parsed as flags. */
export function splitCommand(args: string[]): { flags: string[]; command: string[] } {
  const at = args.indexOf('--');
  if (at < 0 || at === args.length - 1) {
    throw new UsageError('run: missing the command to run after "--"', { hint: `usage: ${USAGE}` });
  }
  return { flags: args.slice(0, at), command: args.slice(at + 1) };
}

/** The variables the child gets on top of the inherited environment. */
export function childEnv(node: Pick<BootstrapNode, 'result' | 'selfSource'>, format: string, jvm: JvmSeedOptions | undefined): Record<string, string> {
  const env = resultEnv(node.result, { selfResolved: node.selfSource !== undefined });
  if (format === 'hocon' && jvm) env.CLUSTERSEED_HOCON = formatHocon(node.result.seeds, jvm).trimEnd();
  if (format === 'java-opts' && jvm) env.CLUSTERSEED_JAVA_OPTS = formatJavaOpts(node.result.seeds, jvm).trimEnd();
  return env;
}

/** 128 + signal number for a child killed by a signal, as shells report it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? os.constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

/**
 * Starts the watchdog that keeps a wrapper crash from orphaning the child: a tiny `sh` holding the
 * read end of a pipe whose only write end is ours. When this process dies — even by SIGKILL, which
 * no handler sees — the kernel closes the pipe, `read` returns, and the watchdog terminates the
 * child's process group (SIGTERM, then SIGKILL after a grace period). A graceful exit kills the
 * watchdog first. Node has no PR_SET_PDEATHSIG, hence a process rather than a flag.
 */
function startWatchdog(target: string, logger: Logger): { stop(): void } {
  // No "--" after the signal: dash's kill builtin rejects it, and "-PGID" after -TERM works in every sh.
  const script = 'read _ignored; kill -TERM "$1" 2>/dev/null || exit 0; sleep "$2"; kill -KILL "$1" 2>/dev/null; exit 0';
  let watchdog: ChildProcess;
  try {
    watchdog = spawn('/bin/sh', ['-c', script, 'clusterseed-watchdog', target, String(WATCHDOG_GRACE_SECONDS)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true, // its own group: a Ctrl-C for the wrapper must not kill the watchdog
    });
  } catch (err) {
    logger.warn({ error: err }, 'run: could not start the watchdog (/bin/sh); the child is not protected against a wrapper crash');
    return { stop() {} };
  }
  watchdog.on('error', (err) => logger.warn({ error: err }, 'run: watchdog failed; the child is not protected against a wrapper crash'));
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    stop() {
      if (watchdog.exitCode === null && watchdog.pid !== undefined) {
        try {
          process.kill(watchdog.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Sends a signal to the child — to its whole process group when it has one (a `sh -c` child's JVM included). */
function signalChild(child: ChildProcess, ownGroup: boolean, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (ownGroup) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal);
  }
}

function describeDecision(node: BootstrapNode): string {
  const { result } = node;
  const seeds = result.seeds.map((s) => formatHostPort(s)).join(',');
  return result.formedNewCluster
    ? `clusterseed: formed a new cluster as ${formatHostPort(result.self)} (${result.strategy}, ${Math.round(result.elapsedMs)} ms)\n`
    : `clusterseed: joining ${seeds} as ${formatHostPort(result.self)} (${result.strategy}, ${Math.round(result.elapsedMs)} ms)\n`;
}

/**
 * `clusterseed run [options] -- COMMAND [ARGS…]`: bootstrap, then run COMMAND with the decision in its
 * environment, keep the endpoint and registration alive while it runs, forward signals, deregister
 * when it exits, and exit with its exit code. stdout belongs to the child; we only write to stderr.
 */
export async function run(args: string[], io: CliIO): Promise<number> {
  const { flags, command } = splitCommand(args);
  const { values } = parseFlags(flags, { ...bootstrapFlags, ...jvmFlags, format: { type: 'string' } }, USAGE);
  const format = oneOf(values.format, ['env', 'hocon', 'java-opts'] as const, 'format', 'env');
  const jvm = parseJvmFlags(values, format);
  const config = await loadBootstrapConfig(values, io);
  const cliNode = await startCliNode(config, io);
  if (!cliNode) {
    io.stderr.write('clusterseed: stopped by a signal before a decision; the command was not started\n');
    return 0;
  }
  const { node } = cliNode;
  let env: Record<string, string>;
  try {
    env = childEnv(node, format, jvm);
  } catch (err) {
    await node.close();
    throw err;
  }
  io.stderr.write(describeDecision(node));

  const [file, ...argv] = command as [string, ...string[]];
  // Own process group, so signals reach the child (and its children) once, through us — except on a
  // terminal, where the child must stay in the foreground group to read the TTY (and gets Ctrl-C itself).
  const ownGroup = !process.stdin.isTTY;
  const child = spawn(file, argv, { stdio: 'inherit', env: { ...io.env, ...env }, detached: ownGroup });
  const started = await new Promise<{ ok: true } | { ok: false; error: NodeJS.ErrnoException }>((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, error }));
  });
  if (!started.ok) {
    await node.close();
    io.stderr.write(`clusterseed: run: cannot start "${file}": ${started.error.message} — check the command and PATH\n`);
    return started.error.code === 'ENOENT' ? 127 : 126;
  }

  const watchdog = startWatchdog(ownGroup ? `-${child.pid!}` : String(child.pid!), io.logger);
  const forward = (signal: NodeJS.Signals) => {
    io.logger.debug({ signal }, 'run: forwarding signal to the child');
    signalChild(child, ownGroup, signal);
  };
  const handlers = FORWARDED.map((signal) => {
    const handler = () => forward(signal);
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });
  // An in-process crash (uncaught exception, process.exit elsewhere) must take the child along.
  const onExit = () => signalChild(child, ownGroup, 'SIGKILL');
  process.on('exit', onExit);

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  // A node that yields in a cluster conflict (DESIGN §4) stops its child and exits 3, so the
  // orchestrator restarts it into the surviving cluster.
  let yielded = false;
  void cliNode.yielded.then((conflict) => {
    yielded = true;
    io.stderr.write(
      `clusterseed: this node yielded in a cluster conflict (its cluster ${formatHostPort(conflict.ours.firstSeed)} ` +
        `lost to ${formatHostPort(conflict.theirs.firstSeed)}); stopping the command — restart to join the surviving cluster\n`,
    );
    signalChild(child, ownGroup, 'SIGTERM');
  });
  const { code, signal } = await exited;
  process.off('exit', onExit);
  watchdog.stop();
  const exitCode = exitCodeOf(code, signal);
  io.logger.info({ exitCode, ...(signal ? { signal } : {}) }, 'run: child exited; closing the endpoint and deregistering');
  try {
    await node.close();
  } catch (err) {
    io.logger.warn({ error: err }, 'run: deregistration failed');
  }
  for (const off of handlers) off();
  return yielded ? EXIT_YIELDED : exitCode;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbortedError, DiscoveryError, TimeoutError } from '../../errors.js';
import { oneOf, parseFlags, parseMs, UsageError, type CliIO } from '../io.js';
import { table } from './resolve.js';

const USAGE = 'clusterseed demo [--nodes N] [--strategy lowest-address|lock] [--format table|json] [--timeout MS]';

interface NodeResult {
  self: { host: string; port: number };
  seeds: { host: string; port?: number }[];
  formedNewCluster: boolean;
  strategy: string;
  elapsedMs: number;
}

/** One node process of the demo (exported for tests of report()). */
export interface DemoNode {
  index: number;
  host: string;
  child: ChildProcess;
  result?: NodeResult;
  exited?: number | string;
  stderrTail: string[];
}

const hp = (p: { host: string; port?: number | undefined }) => (p.port === undefined ? p.host : `${p.host}:${p.port}`);

/** Distinct loopback addresses on Linux (it routes all of 127/8); elsewhere one address, distinct ports. */
function demoHost(i: number): string {
  return process.platform === 'linux' ? `127.0.${Math.floor(i / 200)}.${10 + (i % 200)}` : '127.0.0.1';
}

/** The CLI entry next to this file (dist), or the TS source through tsx when run from the sources. */
function cliCommand(): string[] {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return ['--import', 'tsx', path.join(path.dirname(here), '..', 'main.ts')];
  return [path.join(path.dirname(here), '..', 'main.js')];
}

/**
 * Starts N real node processes (`clusterseed bootstrap`) on this machine, all discovering each other
 * through the embedded `file` provider in a fresh directory, and shows that they agree on one first seed.
 */
export async function demo(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    { nodes: { type: 'string' }, strategy: { type: 'string' }, format: { type: 'string' }, timeout: { type: 'string' } },
    USAGE,
  );
  const count = values.nodes === undefined ? 5 : Number(values.nodes);
  if (!Number.isInteger(count) || count < 1 || count > 200)
    throw new UsageError(`--nodes: expected an integer 1-200, got "${values.nodes}"`, { hint: 'e.g. --nodes 5' });
  const strategy = oneOf(values.strategy, ['lowest-address', 'lock'] as const, 'strategy', 'lowest-address');
  const format = oneOf(values.format, ['table', 'json'] as const, 'format', 'table');
  const timeoutMs = parseMs(values.timeout, 'timeout') ?? 30_000 + count * 200;

  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-demo-'));
  const nodes: DemoNode[] = [];
  const progress = io.stderr.isTTY ? (s: string) => io.stderr.write(`\r\x1b[2K${s}`) : () => {};
  try {
    // Start in a shuffled order: who starts first must not matter.
    const order = Array.from({ length: count }, (_, i) => i).sort(() => Math.random() - 0.5);
    for (const i of order) {
      if (io.signal.aborted) throw interrupted(io.signal);
      nodes.push(await spawnNode(i, dir, count, strategy, timeoutMs));
    }
    nodes.sort((a, b) => a.index - b.index);
    io.logger.debug({ nodes: count, strategy, directory: dir }, 'demo: nodes started');
    await waitForAll(nodes, timeoutMs, io.signal, (done) => progress(`demo: ${done}/${count} nodes decided…`));
    progress('');
    return report(nodes, format, io);
  } finally {
    await stopAll(nodes);
    await rm(dir, { recursive: true, force: true });
  }
}

async function spawnNode(index: number, dir: string, count: number, strategy: string, timeoutMs: number): Promise<DemoNode> {
  const host = demoHost(index);
  const config = {
    service: 'demo',
    discovery: { method: 'file', directory: path.join(dir, 'registry') },
    bootstrap: {
      strategy,
      // The fast path: the demo knows how many nodes it starts, so nobody waits for the stable margin.
      expectedContactPoints: count,
      discoveryIntervalMs: 200,
      probeIntervalMs: 200,
      probeTimeoutMs: 1000,
      probeFailureWindowMs: 3000,
      bootstrapTimeoutMs: timeoutMs,
    },
    management: { host, port: 0 },
    self: { host },
  };
  const file = path.join(dir, `node-${index}.json`);
  await writeFile(file, JSON.stringify(config));
  const child = spawn(process.execPath, [...cliCommand(), 'bootstrap', '--config', file, '--format', 'json', '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLUSTERSEED_CONFIG: '', CLUSTERSEED_DISCOVERY: '', CLUSTERSEED_SERVICE: '' },
  });
  const node: DemoNode = { index, host, child, stderrTail: [] };
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    const line = out.split('\n')[0];
    if (out.includes('\n') && node.result === undefined) {
      try {
        node.result = JSON.parse(line!) as NodeResult;
      } catch {
        node.stderrTail.push(`unexpected output: ${line}`);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    node.stderrTail.push(...d.split('\n').filter(Boolean));
    node.stderrTail.splice(0, Math.max(0, node.stderrTail.length - 5));
  });
  child.on('exit', (code, signal) => (node.exited = code ?? signal ?? 'unknown'));
  return node;
}

function waitForAll(nodes: DemoNode[], timeoutMs: number, signal: AbortSignal, onProgress: (done: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let last = -1;
    const tick = setInterval(() => {
      // The signal first: a Ctrl-C on a terminal also stops the nodes (same process group), and nodes
      // that exited on it are an interruption, not nodes that failed to decide.
      if (signal.aborted) return stop(() => reject(interrupted(signal)));
      const done = nodes.filter((n) => n.result).length;
      if (done !== last) onProgress((last = done));
      const finished = nodes.every((n) => n.result || n.exited !== undefined);
      if (finished) return stop(resolve);
      if (Date.now() - started > timeoutMs) return stop(resolve);
    }, 50);
    const stop = (then: () => void) => {
      clearInterval(tick);
      then();
    };
  });
}

/** Ctrl-C (or SIGTERM): the CLI turns an AbortedError after its signal into exit 128 + the signal number. */
function interrupted(signal: AbortSignal): AbortedError {
  return new AbortedError('demo: interrupted before every node decided', { cause: signal.reason });
}

/**
 * Prints the outcome and returns 0 when the nodes agree. Otherwise throws: a TimeoutError when nodes
 * were still deciding at the deadline (a slower machine may need --timeout), else a non-retriable
 * DiscoveryError — nodes that disagree, or that exited without a decision, are not fixed by waiting.
 * Exported for tests (a disagreement cannot be provoked from outside).
 */
export function report(nodes: DemoNode[], format: 'table' | 'json', io: Pick<CliIO, 'stdout' | 'stderr'>): number {
  const decided = nodes.filter((n) => n.result);
  const firstSeeds = new Set(decided.map((n) => hp(n.result!.seeds[0]!)));
  const formers = decided.filter((n) => n.result!.formedNewCluster);
  const firstSeed = [...firstSeeds][0];
  const agreed = decided.length === nodes.length && firstSeeds.size === 1 && formers.length === 1 && hp(formers[0]!.result!.self) === firstSeed;
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify({ agreed, firstSeed: agreed ? firstSeed : null, nodes: decided.map((n) => n.result) })}\n`);
  } else {
    io.stdout.write(
      table(
        ['NODE', 'ADDRESS', 'DECISION', 'FIRST SEED', 'TIME'],
        nodes.map((n) => [
          `node-${n.index + 1}`,
          n.result ? hp(n.result.self) : n.host,
          n.result ? (n.result.formedNewCluster ? 'formed the cluster' : 'joined') : n.exited !== undefined ? `exited (${n.exited})` : 'undecided',
          n.result ? hp(n.result.seeds[0]!) : '-',
          n.result ? `${Math.round(n.result.elapsedMs)} ms` : '-',
        ]),
      ),
    );
  }
  if (agreed) {
    if (format === 'table') io.stdout.write(`all ${nodes.length} nodes agree on one cluster\nfirst seed: ${firstSeed}\n`);
    return 0;
  }
  for (const n of nodes.filter((x) => !x.result)) io.stderr.write(`node-${n.index + 1} (${n.host}): ${n.stderrTail.join(' | ') || 'no decision'}\n`);
  const undecided = nodes.filter((n) => !n.result);
  const exited = undecided.filter((n) => n.exited !== undefined);
  const why =
    undecided.length === 0
      ? `the nodes disagree: first seeds ${[...firstSeeds].join(', ')}, ${formers.length} formed a cluster`
      : exited.length > 0
        ? `${undecided.length} of ${nodes.length} nodes did not decide (${exited.length} exited without a decision)`
        : `${undecided.length} of ${nodes.length} nodes did not decide in time`;
  if (format === 'table') io.stdout.write(`FAILED: ${why}\n`);
  const hint = 'run with --verbose, or see the node output above';
  if (undecided.length > 0 && exited.length === 0) throw new TimeoutError(`demo: ${why}`, { hint: `raise --timeout, ${hint}` });
  throw new DiscoveryError(`demo: ${why}`, { retriable: false, hint });
}

/** SIGTERM (graceful: deregister), then SIGKILL whatever is still running after 5 s. */
async function stopAll(nodes: DemoNode[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      if (n.exited !== undefined || n.child.exitCode !== null) return;
      const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
      n.child.kill('SIGTERM');
      const timer = setTimeout(() => n.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

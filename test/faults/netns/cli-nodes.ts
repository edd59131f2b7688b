import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../../multiprocess/nodes.js';
import type { NetNode, TestNetwork } from './network.js';

/*
 * Real `clusterseed bootstrap` processes, each inside its node's namespace:
 *   ip netns exec cs-<pid>-<node> node dist/src/cli/main.js bootstrap --config F --format json --verbose
 * stdout's first line is the decision; a node that later yields prints {"conflict":{…}} and exits 3.
 * CLUSTERSEED_FAULTS_CLI points the scenarios at another build (the code before a change, or a
 * deliberately broken variant), which is how these tests are shown to fail.
 */

export const FAULTS_CLI = process.env.CLUSTERSEED_FAULTS_CLI ?? CLI;

export interface Point {
  host: string;
  port: number;
}

export interface CliDecision {
  self: Point;
  seeds: Point[];
  formedNewCluster: boolean;
  strategy: string;
  elapsedMs: number;
}

export interface CliConflict {
  strategy: string;
  ours: { firstSeed: Point; members: number };
  theirs: { firstSeed: Point; seeds: Point[]; members: number };
  yielding: boolean;
}

export const hostPort = (p: Point) => `${p.host}:${p.port}`;

export class CliNode {
  result?: CliDecision;
  /** When the decision line arrived (Date.now()). */
  decidedAt?: number;
  conflict?: CliConflict;
  conflictAt?: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  /** Every stdout line, and the tail of stderr (the --verbose log). */
  readonly lines: string[] = [];
  stderr = '';

  constructor(
    readonly name: string,
    readonly net: NetNode,
    readonly child: ChildProcess,
  ) {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        this.#line(out.slice(0, i));
        out = out.slice(i + 1);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-60_000)));
    child.on('exit', (code, signal) => (this.exit = { code, signal, at: Date.now() }));
  }

  #line(line: string): void {
    this.lines.push(line);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // kept in lines; the invariant reports a node without a decision
    }
    if (this.result === undefined) {
      this.result = parsed as unknown as CliDecision;
      this.decidedAt = Date.now();
    } else if (parsed.conflict !== undefined) {
      this.conflict = parsed.conflict as CliConflict;
      this.conflictAt = Date.now();
    }
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The first seed of the cluster this node decided on, as host:port. */
  get firstSeed(): string | undefined {
    return this.result?.seeds[0] && hostPort(this.result.seeds[0]);
  }

  /** stderr lines at `level` (the CLI logs `clusterseed <level>: <message> {fields}`). */
  logLines(level: 'debug' | 'info' | 'warn' | 'error'): string[] {
    return this.stderr.split('\n').filter((l) => l.startsWith(`clusterseed ${level}:`));
  }

  /** What the node's endpoint answers now (GET /bootstrap/seed-nodes), from the observer. */
  async probe(): Promise<{ seedNodes: Point[]; members?: number } | undefined> {
    if (!this.result || !this.alive) return undefined;
    const res = await fetch(`http://${hostPort(this.result.self)}/bootstrap/seed-nodes`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.ok ? ((await res.json()) as { seedNodes: Point[]; members?: number }) : undefined;
  }

  describe(): string {
    const log = this.stderr
      .split('\n')
      .filter((l) => !l.startsWith('clusterseed debug:'))
      .slice(-25)
      .join('\n');
    return `--- ${this.name} (${this.net.address}) exit=${JSON.stringify(this.exit)}\nstdout: ${this.lines.join('\n        ')}\n${log}`;
  }
}

/** The CLI nodes of one scenario, their config files, and their cleanup. */
export class CliFleet {
  readonly nodes: CliNode[] = [];

  private constructor(
    readonly net: TestNetwork,
    readonly dir: string,
  ) {}

  static async create(net: TestNetwork): Promise<CliFleet> {
    return new CliFleet(net, await mkdtemp(path.join(os.tmpdir(), 'clusterseed-netns-')));
  }

  async start(node: NetNode, config: Record<string, unknown>, name = node.name): Promise<CliNode> {
    const file = path.join(this.dir, `${name}.json`);
    await writeFile(file, JSON.stringify(config, null, 2));
    const child = this.net.spawnIn(node, process.execPath, [FAULTS_CLI, 'bootstrap', '--config', file, '--format', 'json', '--verbose'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    const n = new CliNode(name, node, child);
    this.nodes.push(n);
    return n;
  }

  describe(): string {
    return this.nodes.map((n) => n.describe()).join('\n');
  }

  /** SIGKILL what still runs (the network's destroy() would too) and remove the config files. */
  async cleanup(): Promise<void> {
    await Promise.all(
      this.nodes.map((n) => {
        if (!n.alive) return undefined;
        const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
        n.child.kill('SIGKILL');
        return exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls `predicate` every 100 ms; throws with `describe()` when it does not hold within `timeoutMs`. */
export async function within(timeoutMs: number, what: string, predicate: () => boolean | Promise<boolean>, describe: () => string): Promise<number> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}\n${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

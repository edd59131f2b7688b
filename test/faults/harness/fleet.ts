import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Real clusterseed node processes for the fault suite: each runs fault-node.mjs on the built package,
 * can stop or kill itself at a named step, and can be paused, resumed and killed by the test.
 */

export const FAULT_NODE = fileURLToPath(new URL('./fault-node.mjs', import.meta.url));
const DIST_INDEX = fileURLToPath(new URL('../../../dist/src/index.js', import.meta.url));
if (!existsSync(DIST_INDEX)) throw new Error(`${DIST_INDEX} is missing: run \`npm run build\` first (npm test does it in pretest)`);

/** Where fault-node.mjs can stop or kill itself (the contract's step markers; in-join is inside join()). */
export type FaultStep = 'before-decision' | 'before-lock' | 'holding-lock' | 'in-join' | 'after-decision';
export type FaultAction = 'stop' | 'kill';

export interface Point {
  host: string;
  port: number;
}
export interface NodeDecision {
  seeds: Point[];
  self: Point;
  formedNewCluster: boolean;
  strategy: string;
  elapsedMs: number;
}
export interface NodeConflict {
  strategy: string;
  ours: { firstSeed: Point; members: number };
  theirs: { firstSeed: Point; seeds: Point[]; members: number };
  yielding: boolean;
}
export type NodeEvent =
  | { event: 'started'; pid: number }
  | { event: 'step'; step: FaultStep }
  | { event: 'joining'; seeds: Point[] }
  | { event: 'decided'; result: NodeDecision }
  | { event: 'conflict'; conflict: NodeConflict }
  | { event: 'error'; message: string };

export interface StartOptions {
  /** The bootstrap config object of DESIGN §3 (service, discovery, bootstrap, management, self). */
  config: Record<string, unknown>;
  fault?: { at: FaultStep; action?: FaultAction };
  /** How long the app's join() takes [0]. */
  joinMs?: number;
  /** A command prefix, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec the node, not fork it). */
  wrap?: string[];
  env?: Record<string, string>;
}

/** One line of a node's JSON log: level, msg and the logged fields. */
export type LogLine = { level: string; msg: string; t: number } & Record<string, unknown>;

export const hostPort = (p: Point): string => (p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`);

/** Polls `pred` every 50 ms; throws with `describe()` when it does not hold within `ms`. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, ms: number, what: string, describe: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class FaultNode {
  readonly events: NodeEvent[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** True once the test (or the node's own fault) killed it with SIGKILL: it is dead, not a participant. */
  killed = false;
  #stderr = '';
  #self: string | undefined;
  readonly #exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly fleet: FaultFleet,
  ) {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        const line = out.slice(0, i);
        out = out.slice(i + 1);
        if (line.trim()) this.events.push(JSON.parse(line) as NodeEvent);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.#stderr = (this.#stderr + d).slice(-1_000_000)));
    this.#exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        if (signal === 'SIGKILL') this.killed = true;
        resolve();
      }),
    );
  }

  /** The node's own pid (reported by the script: with a `wrap` prefix, child.pid may be the wrapper's). */
  get pid(): number | undefined {
    const started = this.events.find((e) => e.event === 'started');
    return started?.event === 'started' ? started.pid : undefined;
  }

  get result(): NodeDecision | undefined {
    const e = this.events.find((x) => x.event === 'decided');
    return e?.event === 'decided' ? e.result : undefined;
  }

  get conflict(): NodeConflict | undefined {
    const e = this.events.find((x) => x.event === 'conflict');
    return e?.event === 'conflict' ? e.conflict : undefined;
  }

  get error(): string | undefined {
    const e = this.events.find((x) => x.event === 'error');
    return e?.event === 'error' ? e.message : undefined;
  }

  /** The first seed this node decided on, as host:port. */
  get firstSeed(): string | undefined {
    const seed = this.result?.seeds[0];
    return seed ? hostPort(seed) : undefined;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The last `lines` lines of stderr (the node's JSON log). */
  stderrTail(lines = 20): string {
    return this.#stderr
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  }

  /** The node's log lines (parsed) whose message starts with `prefix`. */
  logLines(prefix: string): LogLine[] {
    const lines: LogLine[] = [];
    for (const l of this.#stderr.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        const line = JSON.parse(l) as LogLine;
        if (typeof line.msg === 'string' && line.msg.startsWith(prefix)) lines.push(line);
      } catch {
        /* a line cut by the tail window */
      }
    }
    return lines;
  }

  /** The address this node advertises (host:port), from its 'bootstrapping' log line. */
  get self(): string | undefined {
    const decided = this.result?.self;
    if (decided) return hostPort(decided);
    this.#self ??= this.logLines('bootstrapping')
      .map((l) => l.self)
      .find((s): s is string => typeof s === 'string');
    return this.#self;
  }

  stepReached(step: FaultStep): boolean {
    return this.events.some((e) => e.event === 'step' && e.step === step);
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined || !this.alive) return;
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  pause(): void {
    this.#signal('SIGSTOP');
  }
  resume(): void {
    this.#signal('SIGCONT');
  }
  terminate(): void {
    this.#signal('SIGTERM');
  }

  /** kill -9 (a stopped process dies too); resolves once it has exited. */
  async kill9(): Promise<void> {
    this.killed = true;
    this.#signal('SIGKILL');
    await this.exited();
  }

  exited(): Promise<void> {
    return this.#exited;
  }

  /** True while the kernel reports the process stopped (state T in /proc/<pid>/stat). */
  isStopped(): boolean {
    const pid = this.pid;
    if (pid === undefined || !this.alive) return false;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
    } catch {
      return false;
    }
  }

  waitFor(pred: (n: FaultNode) => boolean, ms: number, what: string): Promise<void> {
    return waitUntil(
      () => pred(this),
      ms,
      `${this.name}: ${what}`,
      () => this.fleet.describe(),
    );
  }

  describe(): string {
    const state = this.alive ? (this.isStopped() ? 'stopped' : 'running') : `exited ${JSON.stringify(this.exit)}`;
    const events = this.events
      .filter((e) => e.event !== 'started')
      .map((e) => JSON.stringify(e))
      .join('\n  ');
    return `--- ${this.name} pid=${this.pid} ${state}${this.killed ? ' (killed)' : ''}\n  ${events}\n${this.stderrTail(15)}`;
  }
}

const liveFleets = new Set<FaultFleet>();
process.on('exit', () => {
  for (const f of liveFleets) f.killAllNow();
});

/** A temporary directory and the node processes started in it; cleanup() kills what is left. */
export class FaultFleet {
  readonly nodes: FaultNode[] = [];
  readonly dir: string;

  constructor(prefix = 'clusterseed-faults-') {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    liveFleets.add(this);
  }

  async start(name: string, options: StartOptions): Promise<FaultNode> {
    const file = path.join(this.dir, `${name}.json`);
    await writeFile(file, JSON.stringify(options.config));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...options.env };
    if (options.fault) {
      env.FAULT_AT = options.fault.at;
      env.FAULT_ACTION = options.fault.action ?? 'stop';
    }
    if (options.joinMs) env.FAULT_JOIN_MS = String(options.joinMs);
    const [command, ...args] = [...(options.wrap ?? []), process.execPath, FAULT_NODE, file];
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const node = new FaultNode(name, child, this);
    this.nodes.push(node);
    await node.waitFor((n) => n.pid !== undefined || !n.alive, 20_000, 'start');
    return node;
  }

  node(name: string): FaultNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
    return waitUntil(pred, ms, what, () => this.describe());
  }

  /** Synchronous last resort (process 'exit'): resume and kill every process still alive. */
  killAllNow(): void {
    for (const n of this.nodes) {
      if (!n.alive) continue;
      for (const pid of new Set([n.pid, n.child.pid])) {
        if (pid === undefined) continue;
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
    }
  }

  async cleanup(): Promise<void> {
    this.killAllNow();
    await Promise.all(this.nodes.map((n) => n.exited()));
    rmSync(this.dir, { recursive: true, force: true });
    liveFleets.delete(this);
  }

  describe(): string {
    return this.nodes.map((n) => n.describe()).join('\n');
  }
}

export interface OneClusterOptions {
  /** Nodes started after the heal: each must have joined the survivor (not formed a cluster). */
  lateJoiners?: FaultNode[];
  /** When known, the survivor must be this first seed (e.g. the registry's record). */
  survivor?: string;
  /** Extra context for the failure message. */
  describe?: () => string;
}

/**
 * The cluster that `seed` (host:port) stands for: a node joins the cluster of the node it joined, so a
 * first seed that is itself a member of another node's cluster (a lock record repaired to a live
 * member after its founder's lease expired) stands for that cluster. Follows seed → that node's first
 * seed until a founder (or an unknown address).
 */
export function clusterOf(nodes: readonly FaultNode[], seed: string): string {
  let current = seed;
  for (let hops = 0; hops < nodes.length; hops++) {
    const holder = nodes.find((n) => n.self === current && n.firstSeed !== undefined);
    if (!holder || holder.firstSeed === current) return current;
    current = holder.firstSeed!;
  }
  return current;
}

/**
 * The invariant of the fault suite, for any strategy: among the nodes that are still alive, decided and
 * did not yield, exactly one cluster (the survivor, named by its founder: see clusterOf); every node
 * that decided on another cluster and was not killed reported a conflict that names the survivor (and
 * exited 3 or is exiting); no node failed or stayed undecided; late joiners joined the survivor.
 * Returns the survivor (host:port).
 */
export function assertOneCluster(nodes: readonly FaultNode[], options: OneClusterOptions = {}): string {
  const problems: string[] = [];
  const everyone = [...new Set([...nodes, ...(options.lateJoiners ?? [])])];
  const cluster = (seed: string | undefined) => (seed === undefined ? undefined : clusterOf(everyone, seed));
  const participants = nodes.filter((n) => !n.killed);
  const standing = participants.filter((n) => n.conflict === undefined);
  for (const n of standing) {
    if (n.error !== undefined) problems.push(`${n.name} failed: ${n.error}`);
    else if (!n.alive) problems.push(`${n.name} exited ${JSON.stringify(n.exit)} without a conflict`);
    else if (n.result === undefined) problems.push(`${n.name} is alive but never decided`);
  }
  const clusters = [...new Set(standing.map((n) => cluster(n.firstSeed)).filter((s): s is string => s !== undefined))];
  if (clusters.length !== 1) {
    const seeds = standing.map((n) => `${n.name}→${n.firstSeed ?? '?'}`).join(', ');
    problems.push(`expected exactly one cluster among standing nodes, got [${clusters.join(', ')}] (first seeds: ${seeds})`);
  }
  const survivor = clusters[0];
  if (survivor !== undefined && options.survivor !== undefined && survivor !== cluster(options.survivor)) {
    problems.push(`the standing cluster is ${survivor}, expected ${options.survivor}`);
  }
  for (const n of participants.filter((x) => x.conflict !== undefined)) {
    const c = n.conflict!;
    const theirs = cluster(hostPort(c.theirs.firstSeed));
    if (!c.yielding) problems.push(`${n.name} reported a conflict with yielding=false (onConflict is for the losing side)`);
    if (survivor !== undefined && theirs !== survivor) problems.push(`${n.name} yielded to ${hostPort(c.theirs.firstSeed)}, not to the survivor ${survivor}`);
    if (!n.alive && n.exit?.code !== 3) problems.push(`${n.name} yielded but exited ${JSON.stringify(n.exit)}, not 3`);
  }
  for (const n of options.lateJoiners ?? []) {
    if (n.killed || n.conflict !== undefined) problems.push(`late joiner ${n.name} was killed or yielded`);
    else if (n.result === undefined) problems.push(`late joiner ${n.name} never decided`);
    else if (cluster(n.firstSeed) !== survivor) problems.push(`late joiner ${n.name} joined ${n.firstSeed}, not the survivor ${survivor}`);
    else if (n.result.formedNewCluster) problems.push(`late joiner ${n.name} formed a cluster`);
  }
  if (problems.length > 0) {
    throw new Error(`one-cluster invariant violated:\n- ${problems.join('\n- ')}\n${options.describe?.() ?? nodes.map((n) => n.describe()).join('\n')}`);
  }
  return survivor!;
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CLI, type NodeResult } from '../multiprocess/nodes.js';

/*
 * Real `clusterseed bootstrap --format json --verbose` processes for the registry fault tests: the
 * first stdout line is the decision, a later `{"conflict":{…}}` line says the node yielded (it then
 * exits 3). The test reacts to the step markers the nodes log on stderr (firstToLog) to inject a
 * registry fault at a chosen moment of the election.
 */

export interface CliNode {
  readonly host: string;
  readonly child: ChildProcess;
  readonly startedAt: number;
  result?: NodeResult;
  decidedAt?: number;
  conflicts: unknown[];
  /** stdout lines that are neither the decision nor a conflict (the test fails on any). */
  unexpected: string[];
  stderr: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export class CliNodes {
  readonly nodes: CliNode[] = [];
  readonly #waiters: { marker: string; resolve: (n: CliNode) => void }[] = [];
  #dir = '';

  async init(): Promise<this> {
    this.#dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-registry-faults-'));
    return this;
  }

  /** Starts one node; `config` is the config file (service, discovery, bootstrap…) minus its addresses. */
  async start(host: string, config: Record<string, unknown>): Promise<CliNode> {
    const file = path.join(this.#dir, `${host}-${this.nodes.length}.json`);
    await writeFile(file, JSON.stringify({ ...config, management: { host, port: 0 }, self: { host } }));
    const child = spawn(process.execPath, [CLI, 'bootstrap', '--config', file, '--format', 'json', '--verbose'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    children.add(child);
    const node: CliNode = { host, child, startedAt: Date.now(), conflicts: [], unexpected: [], stderr: '' };
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        const text = out.slice(0, i);
        out = out.slice(i + 1);
        let line: Record<string, unknown> | undefined;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // recorded below
        }
        if (line && node.result === undefined && !('conflict' in line)) {
          node.result = line as unknown as NodeResult;
          node.decidedAt = Date.now();
        } else if (line && 'conflict' in line) node.conflicts.push(line.conflict);
        else node.unexpected.push(text);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      node.stderr = (node.stderr + d).slice(-200_000);
      for (const w of this.#waiters.splice(0)) {
        if (node.stderr.includes(w.marker)) w.resolve(node);
        else this.#waiters.push(w);
      }
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      node.exit = { code, signal };
    });
    this.nodes.push(node);
    return node;
  }

  /** The first node whose log contains `marker` (resolved from the log handler itself: no polling delay). */
  firstToLog(marker: string, timeoutMs: number): Promise<CliNode> {
    const already = this.nodes.find((n) => n.stderr.includes(marker));
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no node logged "${marker}" within ${timeoutMs} ms\n${this.describe()}`)), timeoutMs);
      this.#waiters.push({
        marker,
        resolve: (n) => {
          clearTimeout(timer);
          resolve(n);
        },
      });
    });
  }

  /** SIGTERM (graceful: deregisters) every live node and waits up to `timeoutMs` for the exits. */
  async stopAll(timeoutMs = 20_000): Promise<void> {
    for (const n of this.nodes) if (!n.exit) n.child.kill('SIGTERM');
    const end = Date.now() + timeoutMs;
    while (this.nodes.some((n) => !n.exit)) {
      if (Date.now() > end) {
        const stuck = this.nodes.filter((n) => !n.exit).map((n) => n.host);
        throw new Error(`after SIGTERM, ${stuck.join(', ')} did not exit within ${timeoutMs} ms\n${this.describe()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes) if (!n.exit) n.child.kill('SIGKILL');
    await Promise.all(this.nodes.map((n) => (n.exit ? undefined : new Promise<void>((r) => n.child.once('exit', () => r())))));
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }

  describe(): string {
    return this.nodes
      .map(
        (n) =>
          `--- ${n.host} exit=${JSON.stringify(n.exit)} result=${JSON.stringify(n.result)} conflicts=${JSON.stringify(n.conflicts)}\n` +
          n.stderr.split('\n').slice(-25).join('\n'),
      )
      .join('\n');
  }
}

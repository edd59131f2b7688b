import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it in pretest)`);

export interface NodeResult {
  self: { host: string; port: number };
  seeds: { host: string; port: number }[];
  formedNewCluster: boolean;
  elapsedMs: number;
}

export interface RunningNode {
  host: string;
  child: ChildProcess;
  result?: NodeResult;
  stderr: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** A fresh registry directory and the processes started in it; cleanup() kills what is left. */
export class Fleet {
  readonly nodes: RunningNode[] = [];
  dir = '';

  async init(): Promise<this> {
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-mp-'));
    return this;
  }

  get registryDir(): string {
    return path.join(this.dir, 'registry', 'mp', 'nodes');
  }

  async registered(): Promise<number> {
    return (await readdir(this.registryDir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).length;
  }

  async start(host: string, bootstrap: Record<string, unknown>): Promise<RunningNode> {
    const file = path.join(this.dir, `${host}.json`);
    await writeFile(
      file,
      JSON.stringify({
        service: 'mp',
        discovery: { method: 'file', directory: path.join(this.dir, 'registry') },
        bootstrap,
        management: { host, port: 0 },
        self: { host },
      }),
    );
    const child = spawn(process.execPath, [CLI, 'bootstrap', '--config', file, '--format', 'json', '--verbose'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    const node: RunningNode = { host, child, stderr: '' };
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (node.result === undefined && out.includes('\n')) node.result = JSON.parse(out.split('\n')[0]!) as NodeResult;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (node.stderr = (node.stderr + d).slice(-20_000)));
    child.on('exit', (code, signal) => (node.exit = { code, signal }));
    this.nodes.push(node);
    return node;
  }

  /** SIGTERM (graceful) every live node and wait for the exits. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.nodes.map((n) => {
        if (n.exit) return undefined;
        const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
        n.child.kill('SIGTERM');
        return exited;
      }),
    );
  }

  async cleanup(): Promise<void> {
    for (const n of this.nodes) if (!n.exit) n.child.kill('SIGKILL');
    await Promise.all(this.nodes.map((n) => (n.exit ? undefined : new Promise<void>((r) => n.child.once('exit', () => r())))));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  describe(): string {
    return this.nodes
      .map((n) => `--- ${n.host} exit=${JSON.stringify(n.exit)} result=${JSON.stringify(n.result)}\n${n.stderr.split('\n').slice(-15).join('\n')}`)
      .join('\n');
  }
}

/** Polls `predicate` every 50 ms; throws with `describe()` when it does not hold within `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

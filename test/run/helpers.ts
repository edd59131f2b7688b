import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const repo = path.resolve(import.meta.dirname, '../..');
export const cliPath = path.join(repo, 'dist/src/cli/main.js');

export async function tempDir(prefix = 'clusterseed-run-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A config for one node that forms its own cluster at once (fast path: one expected contact point). */
export async function singleNodeConfig(dir: string, host = '127.0.0.1', extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, `config-${host}.json`);
  await writeFile(
    file,
    JSON.stringify({
      service: 'orders',
      discovery: { method: 'file', directory: path.join(dir, 'registry') },
      bootstrap: {
        requiredContactPoints: 1,
        expectedContactPoints: 1,
        discoveryIntervalMs: 100,
        probeIntervalMs: 100,
        probeTimeoutMs: 1000,
        bootstrapTimeoutMs: 30_000,
      },
      management: { host, port: 0 },
      self: { host },
      ...extra,
    }),
  );
  return file;
}

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** After the process exited and its stdout/stderr closed. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** As soon as the process itself exited (its children may still hold the pipes). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the built CLI with a clean clusterseed environment. */
export function cli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLUSTERSEED_CONFIG: '', CLUSTERSEED_DISCOVERY: '', CLUSTERSEED_SERVICE: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit, exited };
}

/** Polls `check` until it returns a truthy value (no fixed sleeps: robust on a loaded machine). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function registryEntries(dir: string, service = 'orders'): Promise<string[]> {
  return readdir(path.join(dir, 'registry', service, 'nodes')).catch(() => []);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

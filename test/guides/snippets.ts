import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const repo = path.resolve(import.meta.dirname, '../..');
export const cliPath = path.join(repo, 'dist/src/cli/main.js');

/**
 * A fenced block of a guide. The info string is `<lang> [<kind>] [key=value…]`, e.g.
 * "json clusterseed-config file=/etc/clusterseed/orders.json" or "sh clusterseed-cli world=file expect-exit=1".
 */
export interface Block {
  lang: string;
  kind: string | undefined;
  attrs: Record<string, string>;
  body: string;
  /** 1-based line of the opening fence, for failure messages. */
  line: number;
}

export function parseBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`unclosed code fence at line ${start + 1}`);
    const words = open[2]!.split(/\s+/).filter(Boolean);
    const attrs: Record<string, string> = {};
    let kind: string | undefined;
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq > 0) attrs[w.slice(0, eq)] = w.slice(eq + 1);
      else kind ??= w;
    }
    blocks.push({ lang: open[1]!, kind, attrs, body: `${body.join('\n')}\n`, line: start + 1 });
  }
  return blocks;
}

export async function readGuide(name: string): Promise<Block[]> {
  return parseBlocks(await readFile(path.join(repo, 'docs/guides', name), 'utf8'));
}

/** Where a guide's absolute path (`/etc/clusterseed/orders.json`) lives in a test root. */
export function inRoot(root: string, guidePath: string): string {
  return path.isAbsolute(guidePath) ? path.join(root, guidePath) : path.join(root, guidePath);
}

/** Rewrites every guide path (those of the page's file= blocks) inside a command or env value. */
export function mapPaths(text: string, root: string, guidePaths: readonly string[]): string {
  let out = text;
  for (const p of [...guidePaths].sort((a, b) => b.length - a.length)) {
    if (path.isAbsolute(p)) out = out.split(p).join(inRoot(root, p));
  }
  return out;
}

/**
 * A bin directory with `clusterseed` (the built CLI) and a stand-in `java` that prints what it was
 * given as one JSON line, then runs until SIGTERM (exit 0), like a JVM server would.
 */
export async function makeBin(dir: string): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'clusterseed'), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  await writeFile(
    path.join(bin, 'java'),
    `#!${process.execPath}
const e = process.env;
process.on('SIGTERM', () => process.exit(0)); // before printing: the test signals once it sees the line
console.log(JSON.stringify({ java: process.argv.slice(2), HOST_IP: e.HOST_IP, HOST_PORT: e.HOST_PORT, CLUSTERSEED_SEEDS: e.CLUSTERSEED_SEEDS }));
setInterval(() => {}, 1000);
`,
  );
  await chmod(path.join(bin, 'clusterseed'), 0o755);
  await chmod(path.join(bin, 'java'), 0o755);
  return bin;
}

/** Lets `import 'clusterseed'` in a guide's app file resolve to this repository (built). */
export async function linkPackage(root: string): Promise<void> {
  await mkdir(path.join(root, 'node_modules'), { recursive: true });
  await symlink(repo, path.join(root, 'node_modules', 'clusterseed'), 'dir').catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  pid: number;
  stdout(): string;
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
  done: Promise<Finished>;
}

export function start(argv: string[], options: { cwd: string; env: Record<string, string | undefined> }): Running {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Finished>((resolve) => {
    child.on('error', (err) => resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { pid: child.pid ?? -1, stdout: () => stdout, stderr: () => stderr, kill: (s) => void child.kill(s), done };
}

/** Runs one `sh clusterseed-cli` block as a shell script (`set -e`: the first failing command fails it). */
export function runScript(script: string, options: { cwd: string; env: Record<string, string | undefined> }): Promise<Finished> {
  return start(['/bin/sh', '-e', '-c', script], options).done;
}

export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { report, type DemoNode } from '../../src/cli/commands/demo.js';
import { interruptedExitCode, main, packageVersion, SignalReceived } from '../../src/cli/main.js';
import { AbortedError, DiscoveryError, TimeoutError } from '../../src/errors.js';

const repo = path.resolve(import.meta.dirname, '../..');
const mainTs = path.join(repo, 'src/cli/main.ts');

/** Runs the CLI in-process and captures its output. */
async function cli(args: string[], signal: AbortSignal = new AbortController().signal) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    signal,
  });
  return { code, stdout, stderr };
}

describe('clusterseed --version', () => {
  it("in-process from the sources (src/cli/main.ts) prints package.json's version", async () => {
    const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('run from the sources through tsx, from another directory, prints the version', () => {
    // As the issue ran it: `npx tsx src/cli/main.ts --version`.
    const r = spawnSync(path.join(repo, 'node_modules/.bin/tsx'), [mainTs, '--version'], {
      cwd: os.tmpdir(),
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('walks up to the package.json named "clusterseed", skipping others on the way, from any depth', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-version-'));
    try {
      const { mkdir, writeFile } = await import('node:fs/promises');
      await writeFile(path.join(tmp, 'package.json'), JSON.stringify({ name: 'clusterseed', version: '9.8.7' }));
      await mkdir(path.join(tmp, 'dist/src/cli'), { recursive: true });
      await writeFile(path.join(tmp, 'dist/package.json'), JSON.stringify({ type: 'module' }));
      await mkdir(path.join(tmp, 'src/cli'), { recursive: true });
      await writeFile(path.join(tmp, 'src/cli/package.json'), '{ not json');
      expect(packageVersion(path.join(tmp, 'dist/src/cli'))).toBe('9.8.7');
      expect(packageVersion(path.join(tmp, 'src/cli'))).toBe('9.8.7');
      expect(() => packageVersion(path.parse(tmp).root)).toThrow(/no package\.json named "clusterseed"/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe('demo: errors', () => {
  const fakeNode = (index: number, result?: { seed: string; formed: boolean }, exited?: number): DemoNode => {
    const host = `127.0.0.${10 + index}`;
    const [seedHost, seedPort] = (result?.seed ?? '').split(':');
    return {
      index,
      host,
      child: {} as ChildProcess,
      stderrTail: [],
      ...(exited !== undefined ? { exited } : {}),
      ...(result
        ? {
            result: {
              self: { host, port: 7000 },
              seeds: [{ host: seedHost!, port: Number(seedPort) }],
              formedNewCluster: result.formed,
              strategy: 'lowest-address',
              elapsedMs: 5,
            },
          }
        : {}),
    };
  };
  const sink = () => {
    const io = { out: '', err: '', stdout: { write: (s: string) => (io.out += s) }, stderr: { write: (s: string) => (io.err += s) } };
    return io;
  };
  const caught = (fn: () => unknown): unknown => {
    try {
      fn();
    } catch (err) {
      return err;
    }
    throw new Error('expected a throw');
  };

  it('nodes that agree: exit 0', () => {
    const io = sink();
    const nodes = [fakeNode(0, { seed: '127.0.0.10:7000', formed: true }), fakeNode(1, { seed: '127.0.0.10:7000', formed: false })];
    expect(report(nodes, 'table', io)).toBe(0);
    expect(io.out).toContain('first seed: 127.0.0.10:7000');
  });

  it('nodes that disagree: a non-retriable DiscoveryError (not a retriable TimeoutError)', () => {
    const io = sink();
    const nodes = [fakeNode(0, { seed: '127.0.0.10:7000', formed: true }), fakeNode(1, { seed: '127.0.0.11:7000', formed: true })];
    const err = caught(() => report(nodes, 'json', io));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err).not.toBeInstanceOf(TimeoutError);
    expect((err as DiscoveryError).retriable).toBe(false);
    expect((err as DiscoveryError).code).toBe('CLUSTERSEED_E_DISCOVERY');
    expect((err as Error).message).toMatch(/^demo: the nodes disagree: first seeds 127\.0\.0\.10:7000, 127\.0\.0\.11:7000, 2 formed a cluster$/);
    expect(JSON.parse(io.out)).toMatchObject({ agreed: false, firstSeed: null });
  });

  it('a node that exited without a decision: a non-retriable DiscoveryError; one still deciding at the deadline: a TimeoutError', () => {
    const exited = caught(() => report([fakeNode(0, { seed: '127.0.0.10:7000', formed: true }), fakeNode(1, undefined, 1)], 'table', sink()));
    expect(exited).toBeInstanceOf(DiscoveryError);
    expect((exited as DiscoveryError).retriable).toBe(false);
    expect((exited as Error).message).toContain('1 of 2 nodes did not decide (1 exited without a decision)');
    const late = caught(() => report([fakeNode(0, { seed: '127.0.0.10:7000', formed: true }), fakeNode(1)], 'table', sink()));
    expect(late).toBeInstanceOf(TimeoutError);
    expect((late as TimeoutError).hint).toContain('--timeout');
  });

  it('the exit code of an interruption is 128 + the signal number', () => {
    expect(interruptedExitCode(new SignalReceived('SIGINT'))).toBe(130);
    expect(interruptedExitCode(new SignalReceived('SIGTERM'))).toBe(143);
    expect(interruptedExitCode(new DOMException('aborted', 'AbortError'))).toBe(130);
  });

  it('aborted (in-process): AbortedError on stderr, exit 130, no temporary directory left', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-demo-abort-'));
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const controller = new AbortController();
      controller.abort(new SignalReceived('SIGINT'));
      const r = await cli(['demo', '--nodes', '2'], controller.signal);
      expect(r.stderr).toBe(`clusterseed: demo: interrupted before every node decided\n`);
      expect(r.code).toBe(130);
      expect(await readdir(tmp)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('Ctrl-C on a terminal (SIGINT to the whole process group): exit 130, one AbortedError line, nodes stopped', { timeout: 60_000 }, async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-demo-sigint-'));
    try {
      // Its own process group, as a shell's foreground job: Ctrl-C reaches the demo and its nodes.
      const child = spawn(process.execPath, ['--import', 'tsx', mainTs, '--verbose', 'demo', '--nodes', '3'], {
        cwd: repo,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TMPDIR: tmp, NODE_OPTIONS: '' },
      });
      let stderr = '';
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const started = new Promise<void>((resolve) => {
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr += d;
          if (stderr.includes('demo: nodes started')) resolve();
        });
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      await Promise.race([started, exited]);
      process.kill(-child.pid!, 'SIGINT');
      const { code, signal } = await exited;
      expect({ code, signal }, stderr).toEqual({ code: 130, signal: null });
      const errors = stderr.split('\n').filter((l) => l.startsWith('clusterseed: '));
      expect(errors, stderr).toEqual(['clusterseed: demo: interrupted before every node decided']);
      expect(stdout).not.toContain('FAILED');
      // The demo removed its directory (tsx keeps its own cache in TMPDIR).
      expect((await readdir(tmp)).filter((f) => f.startsWith('clusterseed-'))).toEqual([]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('AbortedError is what demo throws when interrupted', async () => {
    const { demo } = await import('../../src/cli/commands/demo.js');
    const controller = new AbortController();
    controller.abort();
    const sinkIo = sink();
    await expect(
      demo(['--nodes', '1'], { ...sinkIo, env: {}, signal: controller.signal, logger: { debug() {}, info() {}, warn() {}, error() {} } as never }),
    ).rejects.toBeInstanceOf(AbortedError);
  });
});

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './nodes.js';

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '',
      stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('clusterseed CLI', () => {
  it('demo: 5 nodes agree, JSON per DESIGN §4, no child process or temp directory left', { timeout: 90_000 }, async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-demo-test-'));
    try {
      const before = new Set(await readdir(tmp));
      const r = await run(['demo', '--format', 'json'], { TMPDIR: tmp });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as {
        agreed: boolean;
        firstSeed: string;
        nodes: { seeds: { host: string; port: number }[]; formedNewCluster: boolean }[];
      };
      expect(out.agreed).toBe(true);
      expect(out.nodes).toHaveLength(5);
      expect(out.nodes.filter((n) => n.formedNewCluster)).toHaveLength(1);
      for (const n of out.nodes) expect(`${n.seeds[0]!.host}:${n.seeds[0]!.port}`).toBe(out.firstSeed);
      // The demo removed its directory (and so had stopped its nodes, which deregister on the way out).
      expect((await readdir(tmp)).filter((f) => !before.has(f))).toEqual([]);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('demo: table ends with "first seed: host:port"', { timeout: 90_000 }, async () => {
    const r = await run(['demo', '--nodes', '3']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+ADDRESS\s+DECISION\s+FIRST SEED\s+TIME$/);
    expect(lines.at(-1)).toMatch(/^first seed: 127\.0\.0\.10:\d+$/);
  });

  it('bootstrap --exit --format env prints the decision and deregisters; usage errors exit 2', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-cli-'));
    try {
      const config = path.join(dir, 'c.json');
      await writeFile(
        config,
        JSON.stringify({
          service: 'solo',
          discovery: { method: 'file', directory: dir },
          bootstrap: { requiredContactPoints: 1, stableMarginMs: 200, discoveryIntervalMs: 100 },
          management: { host: '127.0.0.61', port: 0 },
          self: { host: '127.0.0.61' },
        }),
      );
      const r = await run(['bootstrap', '--config', config, '--format', 'env', '--exit']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^CLUSTERSEED_SEEDS=127\.0\.0\.61:(\d+)\nCLUSTERSEED_SELF=127\.0\.0\.61:\1\nCLUSTERSEED_FORMED_NEW_CLUSTER=true\n$/);
      expect(await readdir(path.join(dir, 'solo', 'nodes'))).toEqual([]);

      const bad = await run(['bootstrap', '--config', config, '--format', 'xml']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--format');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('bootstrap: SIGTERM before a decision is a graceful exit 0 that deregisters', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-cli-'));
    try {
      const config = path.join(dir, 'c.json');
      await writeFile(
        config,
        JSON.stringify({
          service: 'waiting',
          discovery: { method: 'file', directory: dir },
          bootstrap: { requiredContactPoints: 3, discoveryIntervalMs: 100 },
          management: { host: '127.0.0.62', port: 0 },
          self: { host: '127.0.0.62' },
        }),
      );
      const child = spawn(process.execPath, [CLI, 'bootstrap', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      const nodes = path.join(dir, 'waiting', 'nodes');
      // Wait until it has registered (it can never decide: 3 contact points are required).
      for (let i = 0; i < 200 && (await readdir(nodes).catch(() => [])).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await readdir(nodes)).toHaveLength(1);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stdout).toBe('');
      expect(await readdir(nodes)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

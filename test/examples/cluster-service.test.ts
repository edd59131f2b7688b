import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const server = path.join(repo, 'examples/cluster-service/server.mjs');

interface Line {
  node: string;
  event: string;
  members?: string[];
  firstSeed?: string;
  formedNewCluster?: boolean;
}

function startNode(host: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [server], { env: { ...process.env, NODE_HOST: host, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Line);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { host, child, lines, stderr: () => stderr, exit };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000) {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('examples/cluster-service', () => {
  it('three processes form one cluster and end with the same member list', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-example-'));
    // Distinct loopback addresses (Linux routes 127/8), the same ports on each, as on separate hosts.
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const env = { CLUSTER_DIR: dir, MANAGEMENT_PORT: String(base), APP_PORT: String(base + 1), EXPECTED_NODES: '3' };
    const hosts = ['127.0.0.153', '127.0.0.151', '127.0.0.152'];
    const nodes = hosts.map((h) => startNode(h, env));
    try {
      const all = hosts.map((h) => `${h}:${base}`).sort();
      for (const n of nodes) {
        const lastMembers = () => n.lines.filter((l) => l.event === 'members').at(-1)?.members ?? [];
        await waitFor(() => n.lines.some((l) => l.event === 'bootstrapped') && lastMembers().length === 3, `${n.host} to see 3 members; stderr: ${n.stderr()}`);
      }
      const boot = nodes.map((n) => n.lines.find((l) => l.event === 'bootstrapped')!);
      expect(new Set(boot.map((b) => b.firstSeed))).toEqual(new Set([`127.0.0.151:${base}`]));
      expect(boot.filter((b) => b.formedNewCluster)).toHaveLength(1);
      for (const n of nodes) expect(n.lines.filter((l) => l.event === 'members').at(-1)!.members).toEqual(all);
      const res = await fetch(`http://127.0.0.152:${base + 1}/members`);
      expect(await res.json()).toEqual({ members: all });
    } finally {
      for (const n of nodes) n.child.kill('SIGTERM');
      expect(await Promise.all(nodes.map((n) => n.exit))).toEqual([0, 0, 0]);
    }
  }, 90_000);
});

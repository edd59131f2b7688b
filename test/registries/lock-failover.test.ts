import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { node, runLockNode, uniqueService, type Discovery, type LockNode } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));
let zookeeper: string;
let etcd: string;
let fileDir: string;

beforeAll(async () => {
  ({ zookeeper, etcd } = await getTestServers());
  fileDir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-failover-'));
}, SERVERS_TIMEOUT_MS);
afterAll(async () => {
  if (fileDir) await rm(fileDir, { recursive: true, force: true });
});

/** Starts the lock-holder child and resolves once it is inside its self-join (holding the lock). */
function startHolder(discovery: Discovery, service: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(discovery), service, '127.0.0.1', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      if (out.includes('JOINING')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before taking the lock: ${stderr}`)));
  });
}

const backends: [string, () => Discovery][] = [
  // Short TTLs: the test waits for the dead holder's lease/session to expire.
  ['etcd', () => ({ method: 'etcd', endpoints: [etcd], leaseTtlSeconds: 2 })],
  ['zookeeper', () => ({ method: 'zookeeper', connectionString: zookeeper, sessionTimeoutMs: 2000 })],
  ['file', () => ({ method: 'file', directory: fileDir, ttlMs: 2000 })],
];

describe.each(backends)('lock strategy on %s after kill -9 of the lock holder', (_name, discovery) => {
  it('the others form one cluster once the holder\'s lock expires', async () => {
    const service = uniqueService('failover');
    const holder = await startHolder(discovery(), service, 30_000);
    const others = Array.from({ length: 6 }, (_, i) => runLockNode(discovery(), service, node(i, 30_100)));
    holder.kill('SIGKILL');
    const nodes: LockNode[] = await Promise.all(others);
    try {
      const formers = nodes.filter((n) => n.outcome.result.formedNewCluster);
      expect(formers).toHaveLength(1);
      const first = formatHostPort(formers[0]!.self);
      for (const n of nodes) expect(formatHostPort(n.outcome.result.seeds[0]!)).toBe(first);
      // Nobody was told to join the dead holder.
      for (const n of nodes) expect(n.outcome.result.seeds.map(formatHostPort)).not.toContain('127.0.0.1:30000');
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

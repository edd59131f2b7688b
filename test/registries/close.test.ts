import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLockCapable } from '../../src/lock/seed-lock.js';
import { createDiscovery } from '../../src/registry.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { runLockNode, node, uniqueService, type Discovery } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/close-and-exit.ts', import.meta.url));
let zookeeper: string;
let etcd: string;
let fileDir: string;

beforeAll(async () => {
  ({ zookeeper, etcd } = await getTestServers());
  fileDir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-close-'));
}, SERVERS_TIMEOUT_MS);
afterAll(async () => {
  if (fileDir) await rm(fileDir, { recursive: true, force: true });
});

const backends: [string, () => Discovery][] = [
  ['etcd', () => ({ method: 'etcd', endpoints: [etcd] })],
  ['zookeeper', () => ({ method: 'zookeeper', connectionString: zookeeper })],
  ['file', () => ({ method: 'file', directory: fileDir })],
];

describe.each(backends)('%s provider close()', (_name, discovery) => {
  it('lets the process exit by itself after close', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(discovery()), uniqueService('exit')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (err += d.toString()));
    // A handle left open keeps the child alive: kill it after a generous bound and report that.
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    expect({ code, out: out.trim(), err }).toEqual({ code: 0, out: 'CLOSED true', err: '' });
  });

  it('is lock capable, and close removes registration and member entries', async () => {
    const service = uniqueService('close');
    const n = await runLockNode(discovery(), service, node(1));
    expect(isLockCapable(n.provider)).toBe(true);
    const lock = (n.provider as unknown as { seedLock(): import('../../src/lock/seed-lock.js').SeedLock }).seedLock();
    expect((await lock.readRecord({ service })).members).toEqual([node(1)]);
    await n.close();
    const reader = await createDiscovery(discovery() as never);
    try {
      expect(await reader.resolve({ service })).toEqual([]);
      const record = await (reader as unknown as { seedLock(): import('../../src/lock/seed-lock.js').SeedLock }).seedLock().readRecord({ service });
      expect(record.members).toEqual([]);
      // first-seed stays: its owner is gone, so the next node treats it as stale.
      expect(record.firstSeed).toEqual(node(1));
    } finally {
      await reader.close();
    }
  });
});

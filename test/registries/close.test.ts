import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isLockCapable } from '../../src/lock/seed-lock.js';
import { createDiscovery } from '../../src/registry.js';
import { runLockNode, node, uniqueService, useLockBackends } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/close-and-exit.ts', import.meta.url));
const backends = useLockBackends('clusterseed-close-').table;

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
      expect(record.firstSeed?.point).toEqual(node(1));
    } finally {
      await reader.close();
    }
  });
});

import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, singleNodeConfig, tempDir, waitFor } from './helpers.js';

/*
 * DESIGN §4 exit 3, end to end through the CLI: a lock node that decided keeps watching its record;
 * when the record names another formation (here written by the test, the way a second cluster's
 * founder would after this node was frozen) it yields: `bootstrap` prints {"conflict":…} and exits 3,
 * `run` stops its child with SIGTERM, waits for it and exits 3. Bound: 20 s after the record changes
 * (the watch reacts on the fs event; conflictCheckIntervalMs is the safety net).
 */

const lockSettings = { bootstrap: { strategy: 'lock', conflictCheckIntervalMs: 1000, bootstrapTimeoutMs: 30_000 } };
const WAIT_TERM = `process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);`;

async function overwriteFirstSeed(dir: string): Promise<void> {
  const file = path.join(dir, 'registry', 'orders', 'first-seed');
  const current = JSON.parse(await readFile(file, 'utf8')) as { cluster?: string };
  expect(current.cluster).toMatch(/^[0-9a-f]{16}$/);
  await writeFile(file, JSON.stringify({ host: '127.0.0.99', port: 7626, cluster: 'another-formation' }));
}

describe('a node that yields in a cluster conflict exits 3', () => {
  it('bootstrap prints the result, then {"conflict":…}, deregisters and exits 3', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.71', lockSettings);
    const p = cli(['bootstrap', '--config', config, '--format', 'json']);
    await waitFor(() => p.stdout().includes('\n'), 'the decision');
    expect(JSON.parse(p.stdout().split('\n')[0]!)).toMatchObject({ formedNewCluster: true, strategy: 'lock' });
    await overwriteFirstSeed(dir);
    const { code } = await p.exit;
    const lines = p.stdout().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toEqual({
      conflict: {
        strategy: 'lock',
        yielding: true,
        ours: { firstSeed: { host: '127.0.0.71', port: expect.any(Number) }, members: 1 },
        theirs: { firstSeed: { host: '127.0.0.99', port: 7626 }, seeds: [{ host: '127.0.0.99', port: 7626 }], members: 1 },
      },
    });
    expect(p.stderr()).toMatch(/yielded in a cluster conflict/);
    expect(code).toBe(3);
  });

  it('run stops its child with SIGTERM, waits for it, and exits 3', { timeout: 60_000 }, async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.72', lockSettings);
    const p = cli(['run', '--config', config, '--', process.execPath, '-e', WAIT_TERM]);
    await waitFor(() => p.stdout().includes('ready'), 'the child');
    await overwriteFirstSeed(dir);
    const { code } = await p.exit;
    expect(p.stdout()).toContain('child got SIGTERM');
    expect(p.stderr()).toMatch(/yielded in a cluster conflict/);
    expect(code).toBe(3);
  });
});

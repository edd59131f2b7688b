import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider, type RegistryProvider } from '../../src/types.js';
import { VirtualClock } from '../../src/testing/index.js';

const root = () => mkdtempSync(path.join(os.tmpdir(), 'clusterseed-file-'));

async function fileProvider(directory: string, extra: Record<string, unknown> = {}, clock?: VirtualClock): Promise<RegistryProvider> {
  const p = await createDiscovery({ method: 'file', directory, ...extra } as never, clock ? { clock } : {});
  if (!isRegistryProvider(p)) throw new Error('file provider must be a registry');
  return p;
}

describe('file provider', () => {
  it('an empty or missing directory is an empty answer', async () => {
    const p = await fileProvider(path.join(root(), 'missing'));
    expect(await p.resolve({ service: 'svc' })).toEqual([]);
  });

  it('registers, resolves in canonical order, and deregisters on close', async () => {
    const dir = root();
    const p = await fileProvider(dir);
    const a = await p.register({ host: '127.0.0.10', port: 7626, meta: { node: 'a' } }, { service: 'svc' });
    await p.register({ host: '127.0.0.9', port: 7626 }, { service: 'svc' });
    await p.register({ host: '127.0.0.11', port: 1 }, { service: 'other' });
    expect(await p.resolve({ service: 'svc' })).toEqual([
      { host: '127.0.0.9', port: 7626 },
      { host: '127.0.0.10', port: 7626, meta: { node: 'a' } },
    ]);
    await a.close();
    expect(await p.resolve({ service: 'svc' })).toEqual([{ host: '127.0.0.9', port: 7626 }]);
    await p.close();
    expect(await p.resolve({ service: 'svc' })).toEqual([]);
    expect(readdirSync(path.join(dir, 'svc', 'nodes'))).toEqual([]);
  });

  it('a lookup sees an entry rewritten in place at once, whatever it read before', async () => {
    // Entries are remembered by their stat signature; a writer that rewrites a file in place (not
    // by rename, as clusterseed does) within one timestamp tick must still be seen.
    const dir = root();
    const nodes = path.join(dir, 'svc', 'nodes');
    const reader = await fileProvider(dir);
    await reader.register({ host: '127.0.0.3', port: 1 }, { service: 'svc' });
    const file = path.join(nodes, 'peer.json');
    const entry = (node: string) => JSON.stringify({ host: '127.0.0.4', port: 1, meta: { node }, updatedAt: Date.now() });
    const metaSeen = async () => (await reader.resolve({ service: 'svc' })).find((p) => p.host === '127.0.0.4')?.meta;
    // Written a while ago, so remembered after its first read; then rewritten in place (same size).
    writeFileSync(file, entry('a'));
    await new Promise((r) => setTimeout(r, 1100));
    expect(await metaSeen()).toEqual({ node: 'a' });
    writeFileSync(file, entry('b'));
    expect(await metaSeen()).toEqual({ node: 'b' });
    // Rewritten again and again within a timestamp tick: never remembered while that fresh.
    for (const node of ['c', 'd', 'e']) {
      writeFileSync(file, entry(node));
      expect(await metaSeen()).toEqual({ node });
    }
    await reader.close();
  });

  it('skips stale entries and refreshes its own before they go stale', async () => {
    const dir = root();
    const clock = new VirtualClock(Date.now());
    const owner = await fileProvider(dir, { ttlMs: 3000 }, clock);
    await owner.register({ host: '127.0.0.2', port: 1 }, { service: 'svc' });
    const nodes = path.join(dir, 'svc', 'nodes');
    writeFileSync(path.join(nodes, 'old.json'), JSON.stringify({ host: '127.0.0.1', port: 1, updatedAt: clock.now() }));
    const reader = await fileProvider(dir, { ttlMs: 3000 }, clock);
    expect((await reader.resolve({ service: 'svc' })).map((p) => p.host)).toEqual(['127.0.0.1', '127.0.0.2']);
    // Advance in small steps so the owner's refresh (real fs I/O) completes between timer firings.
    for (let i = 0; i < 40; i++) {
      await clock.advance(100);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect((await reader.resolve({ service: 'svc' })).map((p) => p.host)).toEqual(['127.0.0.2']);
    await owner.close();
  });

  it('skips malformed entries with a warning and entries of dead local processes', async () => {
    const dir = root();
    const nodes = path.join(dir, 'svc', 'nodes');
    const warnings: unknown[] = [];
    const logger = { debug() {}, info() {}, warn: (o: unknown) => warnings.push(o), error() {} };
    const p = (await createDiscovery({ method: 'file', directory: dir }, { logger })) as RegistryProvider;
    await p.register({ host: '127.0.0.3', port: 2 }, { service: 'svc' });
    writeFileSync(path.join(nodes, 'garbage.json'), '{not json');
    writeFileSync(path.join(nodes, 'wrong.json'), JSON.stringify({ host: 42, updatedAt: Date.now() }));
    writeFileSync(path.join(nodes, 'badhost.json'), JSON.stringify({ host: 'bad host!', updatedAt: Date.now() }));
    writeFileSync(
      path.join(nodes, 'dead.json'),
      JSON.stringify({ host: '127.0.0.4', port: 2, updatedAt: Date.now(), pid: 2 ** 22 + 12345, hostname: os.hostname() }),
    );
    writeFileSync(path.join(nodes, '.in-progress.tmp'), 'x');
    expect(await p.resolve({ service: 'svc' })).toEqual([{ host: '127.0.0.3', port: 2 }]);
    expect(warnings).toHaveLength(3);
    await p.close();
  });

  it('20 processes registering at the same moment all see all 20', async () => {
    const dir = root();
    const n = 20;
    const startAt = Date.now() + 1500;
    const script = path.join(import.meta.dirname, '../fixtures/file-register.ts');
    const children = Array.from(
      { length: n },
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', script, dir, `127.0.0.${i + 1}`, String(startAt), String(n)], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (err += d));
          child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child ${i} exited ${code}: ${err}`))));
        }),
    );
    const outputs = await Promise.all(children);
    const expected = Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}:7626`).join(',');
    for (const out of outputs) expect(out.trim()).toBe(expected);
  }, 90_000);
});

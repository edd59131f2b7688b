import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootstrap, type BootstrapNode } from '../../src/bootstrap/index.js';
import type { ContactPoint } from '../../src/types.js';

const dirs: string[] = [];
const nodes: BootstrapNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir() {
  const d = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-bootstrap-'));
  dirs.push(d);
  return d;
}

const fast = {
  discoveryIntervalMs: 100,
  probeIntervalMs: 100,
  probeTimeoutMs: 1000,
  probeFailureWindowMs: 3000,
  stableMarginMs: 800,
  bootstrapTimeoutMs: 30_000,
};

function start(directory: string, host: string, joined: ContactPoint[][], extra: Record<string, unknown> = {}) {
  return bootstrap({
    service: 'orders',
    discovery: { method: 'file', directory },
    bootstrap: { ...fast, ...extra },
    management: { host, port: 0 },
    self: { host },
    join: async (seeds) => void joined.push(seeds),
  });
}

describe('bootstrap()', () => {
  it('forms one cluster among nodes on distinct loopback addresses; the lowest forms it', async () => {
    const directory = await tempDir();
    const joined: ContactPoint[][] = [];
    const hosts = ['127.0.0.23', '127.0.0.21', '127.0.0.22', '127.0.0.24'];
    const started = await Promise.all(hosts.map((h) => start(directory, h, joined)));
    nodes.push(...started);
    const first = started.map((n) => n.result.seeds[0]!.host);
    expect(new Set(first)).toEqual(new Set(['127.0.0.21']));
    expect(started.filter((n) => n.result.formedNewCluster).map((n) => n.result.self.host)).toEqual(['127.0.0.21']);
    expect(joined).toHaveLength(4);
    for (const n of started) {
      expect(n.result.strategy).toBe('lowest-address');
      expect(n.result.self.port).toBe(n.endpoint.port);
    }
    // The endpoint now reports the decided seeds, so a late joiner joins instead of forming.
    const res = await fetch(`http://127.0.0.22:${started[2]!.endpoint.port}/bootstrap/seed-nodes`);
    const body = (await res.json()) as { seedNodes: ContactPoint[] };
    expect(body.seedNodes[0]!.host).toBe('127.0.0.21');
    const late = await start(directory, '127.0.0.20', joined);
    nodes.push(late);
    expect(late.result.formedNewCluster).toBe(false);
    expect(late.result.seeds[0]!.host).toBe('127.0.0.21');
  });

  it('takes the fast path with expectedContactPoints and deregisters on close', async () => {
    const directory = await tempDir();
    const joined: ContactPoint[][] = [];
    const started = await Promise.all(
      ['127.0.0.31', '127.0.0.32', '127.0.0.33'].map((h) => start(directory, h, joined, { stableMarginMs: 600_000, expectedContactPoints: 3 })),
    );
    expect(started.every((n) => n.result.seeds[0]!.host === '127.0.0.31')).toBe(true);
    expect(await readdir(path.join(directory, 'orders', 'nodes'))).toHaveLength(3);
    await Promise.all(started.map((n) => n.close()));
    await started[0]!.close(); // idempotent
    expect(await readdir(path.join(directory, 'orders', 'nodes'))).toHaveLength(0);
  });

  it('times out naming the gate that stayed closed, and cleans up', async () => {
    const directory = await tempDir();
    const err = await start(directory, '127.0.0.41', [], { requiredContactPoints: 2, bootstrapTimeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT', message: expect.stringContaining('required-contact-points') });
    expect(await readdir(path.join(directory, 'orders', 'nodes'))).toHaveLength(0);
  });

  it('reports members() on the endpoint after joining, first seed first', async () => {
    const directory = await tempDir();
    const node = await bootstrap({
      service: 'orders',
      discovery: { method: 'file', directory },
      bootstrap: { ...fast, requiredContactPoints: 1, stableMarginMs: 100 },
      management: { host: '127.0.0.51', port: 0 },
      self: { host: '127.0.0.51' },
      join: async () => {},
      members: () => [
        { host: '127.0.0.59', port: 1 },
        { host: '127.0.0.55', port: 2 },
      ],
    });
    nodes.push(node);
    const body = (await (await fetch(`http://127.0.0.51:${node.endpoint.port}/bootstrap/seed-nodes`)).json()) as { seedNodes: ContactPoint[] };
    expect(body.seedNodes).toEqual([
      { host: '127.0.0.51', port: node.endpoint.port },
      { host: '127.0.0.55', port: 2 },
      { host: '127.0.0.59', port: 1 },
    ]);
  });

  it('rejects a missing join and a lock strategy on a method without a lock', async () => {
    await expect(bootstrap({ service: 's' } as never)).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG' });
    await expect(
      bootstrap({
        service: 's',
        discovery: { method: 'static', contactPoints: ['127.0.0.1'] },
        bootstrap: { strategy: 'lock' },
        management: { host: '127.0.0.1', port: 0 },
        self: { host: '127.0.0.1' },
        join: async () => {},
      }),
    ).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG', message: expect.stringContaining('bootstrap.strategy') });
  });
});

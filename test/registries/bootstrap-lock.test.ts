import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { bootstrap, type BootstrapNode } from '../../src/index.js';
import type { ContactPoint } from '../../src/types.js';
import { expectNothingRegistered, uniqueService, useLockBackends } from './helpers.js';

// End to end through bootstrap() (management endpoint, self address, registration, lock strategy).
const lockBackends = useLockBackends('clusterseed-bootstrap-lock-', { fileSubdir: 'registry' });
const backends = lockBackends.table;

describe.each(backends)('bootstrap() with strategy lock on %s', (_name, discovery) => {
  it('20 nodes form one cluster; close() deregisters them all', async () => {
    const service = uniqueService('bootstrap');
    const joined = new Map<number, ContactPoint[]>();
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        bootstrap({
          service,
          discovery: discovery() as never,
          bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 60_000 },
          management: { host: '127.0.0.1', port: 0 },
          self: { host: '127.0.0.1' },
          join: async (seeds) => {
            joined.set(i, seeds);
          },
        }),
      ),
    );
    const nodes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      const formers = nodes.filter((n: BootstrapNode) => n.result.formedNewCluster);
      expect(formers).toHaveLength(1);
      const first = formatHostPort(formers[0]!.result.self);
      for (const n of nodes) {
        expect(n.result.strategy).toBe('lock');
        expect(formatHostPort(n.result.seeds[0]!)).toBe(first);
        expect(n.result.self.port).toBe(n.endpoint.port);
      }
      expect(joined.size).toBe(20);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
    await expectNothingRegistered(discovery(), service);
  });
});

describe('CLI bootstrap --exit with an etcd lock config', () => {
  it('prints the decision as JSON', async () => {
    const cli = path.resolve('dist/src/cli/main.js');
    const config = path.join(lockBackends.tmp(), 'etcd-lock.json');
    await writeFile(
      config,
      JSON.stringify({
        service: uniqueService('cli'),
        discovery: { method: 'etcd', endpoints: [lockBackends.servers().etcd] },
        bootstrap: { strategy: 'lock' },
        management: { host: '127.0.0.1', port: 0 },
        self: { host: '127.0.0.1' },
      }),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'bootstrap', '--config', config, '--exit', '--format', 'json'], { timeout: 30_000 });
    const result = JSON.parse(stdout) as { formedNewCluster: boolean; strategy: string; seeds: ContactPoint[]; self: ContactPoint };
    expect(result).toMatchObject({ formedNewCluster: true, strategy: 'lock' });
    expect(result.seeds).toEqual([result.self]);
  });
});

describe.each(backends.slice(0, 2))('bootstrap() with strategy lowest-address on %s', (_name, discovery) => {
  it('5 nodes registered in the registry form one cluster around the lowest address', async () => {
    const service = uniqueService('lowest');
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        bootstrap({
          service,
          discovery: discovery() as never,
          bootstrap: {
            strategy: 'lowest-address',
            requiredContactPoints: 5,
            expectedContactPoints: 5,
            stableMarginMs: 3000,
            discoveryIntervalMs: 200,
            probeIntervalMs: 200,
            bootstrapTimeoutMs: 60_000,
          },
          management: { host: '127.0.0.1', port: 0 },
          self: { host: '127.0.0.1' },
          join: async () => {},
        }),
      ),
    );
    const nodes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      const lowest = nodes.map((n) => n.result.self).sort((a, b) => a.port! - b.port!)[0]!;
      expect(nodes.filter((n) => n.result.formedNewCluster).map((n) => n.result.self)).toEqual([lowest]);
      for (const n of nodes) expect(n.result.seeds[0]).toEqual(lowest);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

describe('bootstrap() with strategy lock: deadline', () => {
  it('says what it was still waiting for when bootstrapTimeoutMs passes', async () => {
    const err = await bootstrap({
      service: uniqueService('deadline'),
      discovery: { method: 'file', directory: path.join(lockBackends.tmp(), 'deadline') } as never,
      bootstrap: { strategy: 'lock', newClusterEnabled: false, bootstrapTimeoutMs: 5000 },
      management: { host: '127.0.0.1', port: 0 },
      self: { host: '127.0.0.1' },
      join: async () => {},
    }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint?: string },
    );
    expect(err).toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT', message: expect.stringContaining('newClusterEnabled is false') });
    expect(err?.hint).toBeTruthy();
  });
});

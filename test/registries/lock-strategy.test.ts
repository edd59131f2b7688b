import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { systemClock } from '../../src/clock.js';
import { Config } from '../../src/config/schema.js';
import { runLockStrategy } from '../../src/lock/lock-strategy.js';
import type { SeedLock } from '../../src/lock/seed-lock.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import { expectNothingRegistered, node, recordingLogger, runLockNode, uniqueService, useLockBackends, type LockNode } from './helpers.js';

const backends = useLockBackends('clusterseed-strategy-').table;

const seedLockOf = (p: unknown) => (p as { seedLock(): SeedLock }).seedLock();

describe.each(backends)('lock strategy on %s', (_name, discovery) => {
  it('replaces a stale first seed (owner not registered) with the lowest live member', async () => {
    const service = uniqueService('stale');
    const writer = await createDiscovery(discovery() as never);
    const nodes: LockNode[] = [];
    try {
      // A cluster formed by 127.0.0.1:20001, which then died (first-seed left behind).
      const held = await seedLockOf(writer).tryLock(node(1), { service });
      expect(await held!.writeFirstSeed({ point: node(1), cluster: 'dead' }, undefined, { service })).toBe(true);
      await held!.release();
      const logger = recordingLogger();
      nodes.push(await runLockNode(discovery(), service, node(5), { logger }));
      expect(nodes[0]!.outcome.result.formedNewCluster).toBe(true);
      expect(logger.lines.some((l) => /first-seed is not registered/.test(l.msg))).toBe(true);
      nodes.push(await runLockNode(discovery(), service, node(3)));
      expect(nodes[1]!.outcome.result.seeds.map(formatHostPort)).toEqual(['127.0.0.1:20005']);
      // The former first seed leaves: its record is stale, the lowest live member (20003) takes over.
      await nodes.shift()!.close();
      const late = await runLockNode(discovery(), service, node(9));
      nodes.push(late);
      expect(late.outcome.result.formedNewCluster).toBe(false);
      expect(late.outcome.result.seeds.map(formatHostPort)).toEqual(['127.0.0.1:20003']);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await writer.close();
    }
  });

  it('with newClusterEnabled false waits for a cluster instead of forming one', async () => {
    const service = uniqueService('no-new');
    const controller = new AbortController();
    const waiting = runLockNode(discovery(), service, node(2), { newClusterEnabled: false, signal: controller.signal });
    const former = await runLockNode(discovery(), service, node(7));
    try {
      const joiner = await waiting;
      expect(joiner.outcome.result.formedNewCluster).toBe(false);
      expect(joiner.outcome.result.seeds.map(formatHostPort)).toEqual(['127.0.0.1:20007']);
      await joiner.close();
    } finally {
      controller.abort();
      await former.close();
    }
  });

  it('stops with an AbortedError and deregisters when its signal fires', async () => {
    const service = uniqueService('abort');
    const controller = new AbortController();
    const reader = await createDiscovery(discovery() as never);
    try {
      const waiting = runLockNode(discovery(), service, node(4), { newClusterEnabled: false, signal: controller.signal });
      // Registered and waiting for a cluster that never comes.
      for (let i = 0; i < 300 && (await reader.resolve({ service })).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ code: 'CLUSTERSEED_E_ABORTED' });
      // The registry holds nothing once the abort has settled: a new session reads it from the server.
      await expectNothingRegistered(discovery(), service);
      // A session that watched the entry may answer from its cache until the watch event arrives (ZooKeeper reads are
      // sequentially consistent, not linearizable); it must converge within 2 s.
      let left = await reader.resolve({ service });
      for (let i = 0; i < 40 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = await reader.resolve({ service });
      }
      expect(left).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe('lock strategy configuration', () => {
  it('is a config error with a provider that cannot lock', async () => {
    const provider = await createDiscovery({ method: 'static', contactPoints: ['127.0.0.1:7626'] } as never);
    // The schema refuses this pair (test/config/rules-walk.test.ts); the strategy's own check is the defence behind it.
    const config = Config.parse({ service: 's', discovery: { method: 'static', contactPoints: ['127.0.0.1:7626'] } });
    config.bootstrap.strategy = 'lock';
    await expect(
      runLockStrategy({
        config,
        provider,
        self: node(1),
        join: async () => {},
        logger: silentLogger,
        clock: systemClock,
        signal: new AbortController().signal,
        startedAt: Date.now(),
        onConflict: () => {},
      }),
    ).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG', message: expect.stringContaining('"static"') });
  });
});

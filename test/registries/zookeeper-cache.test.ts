import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import type { SeedLock } from '../../src/lock/seed-lock.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { eventually, node, uniqueService } from './helpers.js';

let zk: string;

beforeAll(async () => {
  ({ zookeeper: zk } = await getTestServers());
}, SERVERS_TIMEOUT_MS);

const context = { logger: silentLogger, clock: systemClock, env: {}, createDiscovery: () => Promise.reject(new Error('unused')) };

/** A bare provider (the test reaches into its session) and a count of the reads its client sends. */
async function countedProvider() {
  const { ZookeeperProvider } = await import('../../providers/zookeeper/index.js');
  const { ZookeeperOptions } = await import('../../providers/zookeeper/options.js');
  const provider = new ZookeeperProvider(ZookeeperOptions.parse({ method: 'zookeeper', connectionString: zk }), context);
  const reads = { count: 0 };
  const client = provider.session.client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['getData', 'getChildren', 'exists']) {
    const original = client[name]!.bind(client);
    client[name] = (...args: unknown[]) => {
      reads.count++;
      return original(...args);
    };
  }
  return { provider, reads, lock: provider.seedLock() as SeedLock };
}

describe('zookeeper: reads kept with their watches', () => {
  it('a second readRecord or resolve with nothing changed makes no request; a change or a dropped connection makes it read again', async () => {
    const { provider, reads, lock } = await countedProvider();
    const { ZookeeperProvider } = await import('../../providers/zookeeper/index.js');
    const { ZookeeperOptions } = await import('../../providers/zookeeper/options.js');
    const other = new ZookeeperProvider(ZookeeperOptions.parse({ method: 'zookeeper', connectionString: zk }), context);
    const service = uniqueService('zk-cache');
    try {
      const reg = await provider.register(node(1), { service });
      expect(await lock.readRecord({ service })).toEqual({ members: [] });
      expect(await provider.resolve({ service })).toEqual([node(1)]);
      const afterFirst = reads.count;
      expect(await lock.readRecord({ service })).toEqual({ members: [] });
      expect(await provider.resolve({ service })).toEqual([node(1)]);
      expect(reads.count).toBe(afterFirst);

      // Another node's change fires the watch: the next read asks again and sees it.
      await other.seedLock().addMember(node(2), { service });
      await other.register(node(2), { service });
      await eventually(async () => (await lock.readRecord({ service })).members.length === 1, 10_000, 'the member to be read');
      await eventually(async () => (await provider.resolve({ service })).length === 2, 10_000, 'the registration to be read');
      expect(reads.count).toBeGreaterThan(afterFirst);

      // A dropped connection may lose a watch (or delay its event): nothing kept is trusted after it.
      const beforeDrop = reads.count;
      provider.session.client.emit('disconnected');
      expect((await lock.readRecord({ service })).members).toEqual([node(2)]);
      expect(reads.count).toBeGreaterThan(beforeDrop);
      const beforeResolve = reads.count;
      await provider.resolve({ service });
      expect(reads.count).toBeGreaterThan(beforeResolve);
      const kept = reads.count;
      await lock.readRecord({ service });
      expect(reads.count).toBe(kept);

      // While another session holds the lock (and its node's watch has not fired), tryLock asks nothing.
      const held = await other.seedLock().tryLock(node(2), { service });
      expect(held).toBeDefined();
      expect(await lock.tryLock(node(1), { service })).toBeUndefined();
      const watching = reads.count;
      expect(await lock.tryLock(node(1), { service })).toBeUndefined();
      expect(reads.count).toBe(watching);
      await held!.release();
      await eventually(
        async () => {
          const mine = await lock.tryLock(node(1), { service });
          await mine?.release();
          return mine !== undefined;
        },
        10_000,
        'the released lock to be taken',
      );
      await reg.close();
    } finally {
      await provider.close();
      await other.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { expectNothingRegistered, expectOneCluster, node, runLockNode, uniqueService, useLockBackends, type LockNode } from './helpers.js';

const backends = useLockBackends('clusterseed-lock-', {
  etcd: { leaseTtlSeconds: 3 },
  zookeeper: { sessionTimeoutMs: 4000 },
  file: { ttlMs: 3000 },
}).table;

describe.each(backends)('lock strategy on %s', (_name, discovery) => {
  it('20 nodes bootstrapping at once form exactly one cluster and share its first seed', async () => {
    const service = uniqueService('formation');
    const nodes: LockNode[] = await Promise.all(Array.from({ length: 20 }, (_, i) => runLockNode(discovery(), service, node(i))));
    try {
      const first = expectOneCluster(nodes);
      const former = nodes.find((n) => n.outcome.result.formedNewCluster)!;
      expect(former.outcome.result.seeds.map(formatHostPort)).toEqual([first]);
      for (const n of nodes) {
        expect(n.outcome.result.seeds.length).toBeLessThanOrEqual(5);
        expect(n.outcome.result.strategy).toBe('lock');
        expect(n.joined).toEqual([n.outcome.result.seeds]);
      }
      // A late joiner finds the same cluster.
      const late = await runLockNode(discovery(), service, node(99));
      nodes.push(late);
      expect(late.outcome.result.formedNewCluster).toBe(false);
      expect(formatHostPort(late.outcome.result.seeds[0]!)).toBe(first);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
    // Graceful close removes every registration.
    await expectNothingRegistered(discovery(), service);
  });
});

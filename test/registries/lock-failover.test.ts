import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { expectOneCluster, node, runLockNode, startLockHolder, uniqueService, useLockBackends, type LockNode } from './helpers.js';

// Short TTLs: the test waits for the dead holder's lease/session to expire.
const backends = useLockBackends('clusterseed-failover-', {
  etcd: { leaseTtlSeconds: 2 },
  zookeeper: { sessionTimeoutMs: 2000 },
  file: { ttlMs: 2000 },
}).table;

describe.each(backends)('lock strategy on %s after kill -9 of the lock holder', (_name, discovery) => {
  it("the others form one cluster once the holder's lock expires", async () => {
    const service = uniqueService('failover');
    const holder = await startLockHolder(discovery(), service, node(0, 30_000));
    const others = Array.from({ length: 6 }, (_, i) => runLockNode(discovery(), service, node(i, 30_100)));
    holder.kill('SIGKILL');
    const nodes: LockNode[] = await Promise.all(others);
    try {
      expectOneCluster(nodes);
      // Nobody was told to join the dead holder.
      for (const n of nodes) expect(n.outcome.result.seeds.map(formatHostPort)).not.toContain('127.0.0.1:30000');
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});

import { startEtcdCluster, type EtcdCluster } from '../servers/ensembles.js';
import { describeLeaderFaults } from './registry-leader-scenario.js';

/*
 * Issue 9, registry failures on etcd: a 3-member etcd cluster loses its leader (SIGKILL, or SIGSTOP
 * as an isolation stand-in) while 5 CLI nodes run the lock election. Invariant (every scenario):
 * exactly one cluster, nobody yields, every node decides within 45 s, a late node joins the survivor
 * within 30 s. Lease TTL 5 s: the 8 s pause outlasts the leases held through the frozen leader.
 */
describeLeaderFaults({
  name: 'etcd',
  start: () => startEtcdCluster(3),
  discovery: (e) => ({ method: 'etcd', endpoints: (e as EtcdCluster).endpoints, leaseTtlSeconds: 5 }),
  hostPrefix: '127.0.0.6',
});

import { startZookeeperEnsemble, type ZookeeperEnsemble } from '../servers/ensembles.js';
import { describeLeaderFaults } from './registry-leader-scenario.js';

/*
 * Issue 9, registry failures on ZooKeeper: a 3-server ensemble loses its leader (SIGKILL, or SIGSTOP
 * as an isolation stand-in) while 5 CLI nodes run the lock election. Invariant (every scenario):
 * exactly one cluster, nobody yields, every node decides within 45 s, a late node joins the survivor
 * within 30 s. Session timeout 4 s: the 8 s pause outlasts the sessions of clients stuck on the frozen
 * leader unless they move to another server in time.
 */
describeLeaderFaults({
  name: 'zookeeper',
  start: () => startZookeeperEnsemble(3),
  discovery: (e) => ({ method: 'zookeeper', connectionString: (e as ZookeeperEnsemble).connectionString, sessionTimeoutMs: 4000 }),
  hostPrefix: '127.0.0.7',
});

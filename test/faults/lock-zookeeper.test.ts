import { beforeAll, describe, it } from 'vitest';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { LOCK_FAULT_MATRIX, runLockScenario, scenarioName } from './harness/lock-scenario.js';

/*
 * The lock fault matrix on a real ZooKeeper (sessionTimeoutMs 2000; the test server's tickTime is 500,
 * so sessions may be that short): A stops past its session or is killed at each step of the lock
 * protocol while B, C, D form; see harness/lock-scenario.ts for the invariant (one cluster after the
 * heal, A joined or yielded with exit 3, E joins the survivor, the record names it) and the time
 * bounds. The scenarios run concurrently, each with its own service.
 */

let connectionString = '';
beforeAll(async () => {
  connectionString = (await getTestServers()).zookeeper;
}, SERVERS_TIMEOUT_MS);
const backend = { name: 'zookeeper', discovery: () => ({ method: 'zookeeper', connectionString, sessionTimeoutMs: 2000 }), leaseMs: 2000 };

describe.concurrent('lock on ZooKeeper: pauses and kill -9', () => {
  // Issue 9, reproduction 2, with its settings: session 4 s, A frozen 11 s inside join([A]) while B, C
  // and D start and form; before the fenced write, A wrote first-seed over their record and E joined A.
  it(
    'reproduction 2: lock on ZooKeeper — A frozen 11 s in join while B, C, D form; one cluster, E joins the survivor',
    () =>
      runLockScenario(backend, {
        label: 'reproduction 2',
        step: 'in-join',
        action: 'stop',
        othersStart: 'at-pause',
        othersDelayMs: 1000,
        minPauseMs: 11_000,
        discovery: { sessionTimeoutMs: 4000 },
        leaseMs: 4000,
      }),
    120_000,
  );

  for (const scenario of LOCK_FAULT_MATRIX) {
    it(scenarioName(scenario), () => runLockScenario(backend, scenario), 120_000);
  }
});

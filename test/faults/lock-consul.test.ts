import { afterAll, beforeAll, describe, it } from 'vitest';
import { ConsulEmulator } from '../emulators/consul/server.js';
import { LOCK_FAULT_MATRIX, runLockScenario, scenarioName } from './harness/lock-scenario.js';

/*
 * The lock fault matrix on the Consul emulator (an HTTP server in this test process; the node
 * processes reach it on loopback). Consul's TTLs are at least 10 s; the emulator's timeScale 0.6 makes
 * a "10s" check and session last 6 s (sessionTtlMultiplier 1: no 2× grace) while the nodes keep their
 * real 10 s settings and refresh every 3.3 s — 2.7 s of slack for a loaded machine. A stops past that
 * or is killed at each step of the lock protocol while B, C, D form; see harness/lock-scenario.ts for
 * the invariant (one cluster after the heal, A joined or yielded with exit 3, E joins the survivor,
 * the record names it) and the time bounds. The scenarios run concurrently, each with its own service.
 */

const emulator = new ConsulEmulator({ timeScale: 0.6, sessionTtlMultiplier: 1 });
beforeAll(() => emulator.start());
afterAll(() => emulator.stop());
const backend = {
  name: 'consul',
  discovery: () => ({ method: 'consul', host: '127.0.0.1', port: emulator.port, sessionTtlSeconds: 10, lockDelaySeconds: 1 }),
  leaseMs: 6000,
};

describe.concurrent('lock on Consul (emulator): pauses and kill -9', () => {
  for (const scenario of LOCK_FAULT_MATRIX) {
    it(scenarioName(scenario), () => runLockScenario(backend, scenario), 120_000);
  }
});

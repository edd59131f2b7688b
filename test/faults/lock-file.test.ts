import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { LOCK_FAULT_MATRIX, runLockScenario, scenarioName } from './harness/lock-scenario.js';

/*
 * The lock fault matrix on the file provider (a shared directory, ttlMs 1500): A stops past its TTL or
 * is killed at each step of the lock protocol while B, C, D form; see harness/lock-scenario.ts for the
 * invariant (one cluster after the heal, A joined or yielded with exit 3, E joins the survivor, the
 * record names it) and the time bounds. The scenarios run concurrently, each with its own service.
 */

const directory = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-faults-file-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const backend = { name: 'file', discovery: () => ({ method: 'file', directory, ttlMs: 1500 }), leaseMs: 1500 };

describe.concurrent('lock on the file provider: pauses and kill -9', () => {
  for (const scenario of LOCK_FAULT_MATRIX) {
    it(scenarioName(scenario), () => runLockScenario(backend, scenario), 120_000);
  }
});

import { describe, expect, it } from 'vitest';
import { assertOneCluster, clusterOf, waitUntil } from './harness/fleet.js';
import { LOCK_FAULT_MATRIX, scenarioName, type LockScenario } from './harness/lock-scenario.js';
import { KubeWorld } from '../kubernetes/multiprocess-helpers.js';

/*
 * The lock fault matrix (harness/lock-scenario.ts) on kubernetes-api Leases: A stops past its lease
 * (SIGSTOP) or is killed at each step of the lock protocol while B, C, D form. Every node is a pod of
 * the emulator whose podIP/port are its management address. On Kubernetes the pod is the
 * registration, so "A's registration expires" reads: a killed A's pod is deleted (the kubelet
 * noticed), a stopped A's pod stays Running (a frozen process is a live pod until probes fail) — the
 * harder case for the record: it still names a "live" founder. Only the lock Lease expires, 2 s after
 * the others last saw it change.
 *
 * Invariant after the heal: exactly one cluster — every standing node names the same first seed; A
 * joined it or yielded (conflict event, exit 3); nobody of B, C, D yielded (nothing wrote over their
 * record); a late node E joins the survivor; the lock Lease's first-seed names (a member of) the
 * survivor and the members Lease lists every standing node.
 * Time bounds (a loaded 2-core machine): A reaches its step within 20 s; B, C, D decide within
 * leaseDuration + 28 s of starting; every node decides or yields within 30 s of A's resume; E decides
 * within 30 s; the members Lease lists everyone within 20 s.
 */

const LEASE_S = 2;
const settings = {
  strategy: 'lock',
  discoveryIntervalMs: 200,
  probeIntervalMs: 200,
  probeTimeoutMs: 1500,
  conflictCheckIntervalMs: 1000,
  bootstrapTimeoutMs: 120_000,
};
const discovery = { leaseDurationSeconds: LEASE_S };

async function runKubernetesLockScenario(index: number, scenario: LockScenario): Promise<void> {
  const hosts = ['A', 'B', 'C', 'D', 'E'].map((_, i) => `127.0.${20 + index}.${i + 1}`);
  const w = await KubeWorld.start(hosts);
  const context = () => `kubernetes / ${scenarioName(scenario)}\n${w.describe()}`;
  const start = (name: string, host: string, fault?: { at: LockScenario['step']; action: LockScenario['action'] }) =>
    w.startNode(name, host, settings, { discovery, ...(fault ? { fault } : {}) });
  try {
    const a = await start('A', hosts[0]!, { at: scenario.step, action: scenario.action });
    await a.waitFor((n) => n.stepReached(scenario.step) && (scenario.action === 'kill' ? !n.alive : n.isStopped()), 20_000, `reach ${scenario.step}`);
    if (scenario.action === 'kill') w.emu.deletePod('default', w.podName(hosts[0]!));
    // Before A can have written anything the others start at once (they wait on its lock); from the
    // moment it may have, once its lock Lease expired in anyone's view (2 × lease, generously).
    if (scenario.step === 'in-join' || scenario.step === 'after-decision') await new Promise((r) => setTimeout(r, 2 * LEASE_S * 1000));
    const others = await Promise.all(['B', 'C', 'D'].map((name, i) => start(name, hosts[i + 1]!)));
    await w.fleet.waitFor(() => others.every((n) => n.result !== undefined || !n.alive), LEASE_S * 1000 + 28_000, 'B, C, D to decide');
    const formed = assertOneCluster(others, { describe: context });

    if (scenario.action === 'stop') a.resume();
    let last: unknown;
    await waitUntil(
      () => {
        try {
          assertOneCluster([a, ...others], { survivor: formed, describe: () => '' });
          return a.conflict === undefined || !a.alive;
        } catch (err) {
          last = err;
          return false;
        }
      },
      30_000,
      'every node to decide or yield after the resume',
      () => `${(last as Error | undefined)?.message}\n${context()}`,
    );
    for (const n of others) expect(n.conflict, `${n.name} yielded: someone wrote over the record of B, C, D\n${context()}`).toBeUndefined();

    const e = await start('E', hosts[4]!);
    await e.waitFor((n) => n.result !== undefined || !n.alive, 30_000, 'decide (late joiner)');
    assertOneCluster(w.fleet.nodes, { lateJoiners: [e], survivor: formed, describe: context });
    const recorded = w.recordedFirstSeed();
    expect(recorded !== undefined && clusterOf(w.fleet.nodes, recorded) === formed, `the Lease's first-seed is ${recorded}\n${context()}`).toBe(true);
    const standing = w.fleet.nodes.filter((n) => n.alive && n.conflict === undefined).map((n) => n.self!);
    await waitUntil(() => standing.every((s) => w.recordedMembers().includes(s)), 20_000, `the members Lease to list ${standing.join(', ')}`, context);
  } finally {
    await w.close();
  }
}

describe.concurrent('lock on kubernetes-api Leases: pauses and kill -9', () => {
  LOCK_FAULT_MATRIX.forEach((scenario, i) => {
    it(scenarioName(scenario), () => runKubernetesLockScenario(i, scenario), 120_000);
  });
});

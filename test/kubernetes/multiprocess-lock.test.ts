import { afterEach, describe, expect, it } from 'vitest';
import { assertOneCluster, hostPort, type FaultNode } from '../faults/harness/fleet.js';
import { KubeWorld } from './multiprocess-helpers.js';

/*
 * The lock strategy on kubernetes-api Leases with real node processes (fault-node.mjs on the built
 * package), each a pod in the emulator: podIP = its 127.0.0.x management host, container port
 * "management" = its management port. Leases of 2 s (leaseDurationSeconds, the schema's minimum).
 *
 * Invariant everywhere: exactly one cluster among the standing nodes (every one names the same first
 * seed, exactly one formedNewCluster among them), a node that decided otherwise yielded (conflict
 * event, exit 3), and the lock Lease's first-seed annotation names the survivor.
 */

const LEASE_S = 2;
/** A killed holder's lock is free leaseDuration after the others first saw it; the rest is forming. */
const KILL_BOUND_MS = LEASE_S * 1000 + 25_000;
const settings = { strategy: 'lock', discoveryIntervalMs: 200, probeIntervalMs: 200, probeTimeoutMs: 1500, conflictCheckIntervalMs: 1000 };
const discovery = { leaseDurationSeconds: LEASE_S };

let world: KubeWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const decided = (nodes: FaultNode[]) => () => nodes.every((n) => n.result !== undefined || !n.alive);
const hosts = (from: number, n: number) => Array.from({ length: n }, (_, i) => `127.0.0.${from + i}`);

describe('kubernetes-api, lock on Leases, real processes', () => {
  it('5 pods starting at once form exactly one cluster; the Lease records it and every member; close releases the lock', { timeout: 120_000 }, async () => {
    const hs = hosts(151, 5);
    const w = (world = await KubeWorld.start(hs));
    const nodes = await Promise.all(hs.map((h, i) => w.startNode(`N${i}`, h, settings, { discovery })));
    await w.fleet.waitFor(decided(nodes), 60_000, 'every node to decide');
    const survivor = assertOneCluster(nodes, { describe: () => w.describe() });
    expect(nodes.filter((n) => n.result!.formedNewCluster)).toHaveLength(1);
    for (const n of nodes) expect(hostPort(n.result!.seeds[0]!)).toBe(survivor);
    expect(w.recordedFirstSeed()).toBe(survivor);
    expect(JSON.parse(w.lockLease.metadata.annotations['clusterseed.io/first-seed']).forming).toBeUndefined();
    await w.fleet.waitFor(() => nodes.every((n) => w.recordedMembers().includes(n.self!)), 20_000, 'the members Lease to list every node');
    expect(w.lockLease.spec.holderIdentity ?? '').toBe(''); // the founder released it after forming
    for (const n of nodes) n.terminate();
    await Promise.all(nodes.map((n) => n.exited()));
    expect(nodes.map((n) => n.exit?.code)).toEqual([0, 0, 0, 0, 0]);
    expect(w.lockLease.spec.holderIdentity ?? '').toBe('');
  });

  /*
   * kill -9 of the lock holder while it holds the lock, before it wrote anything. Its pod is deleted
   * (the kubelet noticed). Bound: B, C, D decide within leaseDuration + 25 s of starting (the lock is
   * free leaseDuration after they first saw it unchanged; forming takes the rest).
   */
  it('kill -9 while holding the lock: the others form exactly one cluster within leaseDuration + 25 s', { timeout: 120_000 }, async () => {
    const hs = hosts(161, 4);
    const w = (world = await KubeWorld.start(hs));
    const a = await w.startNode('A', hs[0]!, settings, { discovery, fault: { at: 'holding-lock', action: 'kill' } });
    await a.waitFor((n) => n.stepReached('holding-lock') && !n.alive, 20_000, 'hold the lock and die');
    expect(w.lockLease.spec.holderIdentity).toMatch(new RegExp(`^${hs[0]!.replace(/\./g, '\\.')}:${w.port}/`));
    w.emu.deletePod('default', w.podName(hs[0]!));
    const startedAt = Date.now();
    const others = await Promise.all(hs.slice(1).map((h, i) => w.startNode('BCD'[i]!, h, settings, { discovery })));
    await w.fleet.waitFor(decided(others), KILL_BOUND_MS, `B, C, D to decide within ${KILL_BOUND_MS} ms`);
    const tookMs = Date.now() - startedAt;
    const survivor = assertOneCluster(w.fleet.nodes, { describe: () => w.describe() });
    expect(others.filter((n) => n.result!.formedNewCluster)).toHaveLength(1);
    expect(tookMs).toBeGreaterThanOrEqual(LEASE_S * 1000 - 100); // nobody broke the dead holder's lease early
    expect(w.recordedFirstSeed()).toBe(survivor);
    expect(w.lockLease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  /*
   * kill -9 of the founder inside join([self]), after its fenced write of first-seed (forming). Its
   * pod stays Running (the kubelet has not noticed: the worst case, the founder still looks live), so
   * the record cannot be repaired as stale; the others wait for its lock to expire, then clear the
   * abandoned forming record and form. Bound: leaseDuration + 25 s from their start.
   */
  it('kill -9 in join with the pod still Running: the others clear the abandoned record and form one cluster within leaseDuration + 25 s', {
    timeout: 120_000,
  }, async () => {
    const hs = hosts(171, 4);
    const w = (world = await KubeWorld.start(hs));
    const a = await w.startNode('A', hs[0]!, settings, { discovery, fault: { at: 'in-join', action: 'kill' } });
    await a.waitFor((n) => n.stepReached('in-join') && !n.alive, 20_000, 'write first-seed and die in join');
    expect(w.recordedFirstSeed()).toBe(`${hs[0]}:${w.port}`);
    const others = await Promise.all(hs.slice(1).map((h, i) => w.startNode('BCD'[i]!, h, settings, { discovery })));
    await w.fleet.waitFor(decided(others), KILL_BOUND_MS, `B, C, D to decide within ${KILL_BOUND_MS} ms`);
    const survivor = assertOneCluster(w.fleet.nodes, { describe: () => w.describe() });
    expect(survivor).not.toBe(`${hs[0]}:${w.port}`);
    expect(others.filter((n) => n.result!.formedNewCluster)).toHaveLength(1);
    expect(w.recordedFirstSeed()).toBe(survivor);
  });

  /*
   * The fencing case: the founder is frozen (SIGSTOP) inside join([self]) past its lease while B, C,
   * D take the lock and form; then it resumes with its stale hold. Its fenced PUT carries the old
   * resourceVersion and gets 409, so it writes nothing over their record; it yields (exit 3). A late
   * node E joins the survivor. Bounds: B, C, D decide within leaseDuration + 25 s; A yields within
   * 20 s of the resume; E decides within 30 s.
   */
  it('a founder frozen in join past its lease resumes and yields; nothing it does lands; a late node joins the survivor', { timeout: 150_000 }, async () => {
    const hs = hosts(181, 5);
    const w = (world = await KubeWorld.start(hs));
    const a = await w.startNode('A', hs[0]!, settings, { discovery, fault: { at: 'in-join', action: 'stop' } });
    await a.waitFor((n) => n.stepReached('in-join') && n.isStopped(), 20_000, 'write first-seed and freeze in join');
    const others = await Promise.all(hs.slice(1, 4).map((h, i) => w.startNode('BCD'[i]!, h, settings, { discovery })));
    await w.fleet.waitFor(decided(others), KILL_BOUND_MS, 'B, C, D to decide');
    const survivor = assertOneCluster(others, { describe: () => w.describe() });
    expect(survivor).not.toBe(`${hs[0]}:${w.port}`);
    const recorded = w.lockLease.metadata.annotations['clusterseed.io/first-seed'];

    a.resume();
    await a.waitFor((n) => !n.alive, 20_000, 'yield and exit after the resume');
    expect(a.conflict, w.describe()).toBeDefined();
    expect(a.exit?.code).toBe(3);
    expect(w.lockLease.metadata.annotations['clusterseed.io/first-seed']).toBe(recorded); // untouched by A
    // It found out by a 409 on its stale resourceVersion (renewal or fenced write), not by a clock.
    expect(a.logLines('kubernetes: lost the lock').length, w.describe()).toBeGreaterThan(0);
    for (const n of others) expect(n.conflict, `${n.name} yielded`).toBeUndefined();

    const e = await w.startNode('E', hs[4]!, settings, { discovery });
    await e.waitFor((n) => n.result !== undefined || !n.alive, 30_000, 'decide (late joiner)');
    assertOneCluster(w.fleet.nodes, { lateJoiners: [e], survivor, describe: () => w.describe() });
    expect(w.recordedFirstSeed()).toBe(survivor);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { assertOneCluster, hostPort } from '../faults/harness/fleet.js';
import { KubeWorld } from './multiprocess-helpers.js';

/*
 * lowest-address on kubernetes-api with real node processes: every node is a pod in the emulator
 * (podIP = its 127.0.0.x management host, container port "management" = its management port).
 * Invariant: exactly one cluster — every node names the same first seed, the lowest address, and
 * exactly one node reports formedNewCluster. Bound: all decide within 60 s (a loaded 2-core box;
 * typically ~3 s with these intervals).
 */

const settings = {
  strategy: 'lowest-address',
  expectedContactPoints: 3,
  discoveryIntervalMs: 200,
  probeIntervalMs: 200,
  probeTimeoutMs: 1500,
  probeFailureWindowMs: 4000,
  stableMarginMs: 1500,
};

let world: KubeWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('kubernetes-api, lowest-address, real processes', () => {
  it('3 pods (expectedContactPoints 3) form one cluster seeded by the lowest pod IP; a late pod joins it', { timeout: 120_000 }, async () => {
    const hosts = ['127.0.0.143', '127.0.0.141', '127.0.0.142', '127.0.0.140'];
    const w = (world = await KubeWorld.start(hosts));
    const nodes = await Promise.all(hosts.slice(0, 3).map((h, i) => w.startNode(`N${i}`, h, settings)));
    await w.fleet.waitFor(() => nodes.every((n) => n.result !== undefined || !n.alive), 60_000, 'every node to decide');
    const survivor = assertOneCluster(nodes, { describe: () => w.describe() });
    expect(survivor).toBe(`127.0.0.141:${w.port}`);
    expect(nodes.filter((n) => n.result!.formedNewCluster).map((n) => n.self)).toEqual([`127.0.0.141:${w.port}`]);
    for (const n of nodes) expect(hostPort(n.result!.seeds[0]!)).toBe(survivor);

    // A pod with a lower IP started after formation must join the cluster, not form a new one.
    const late = await w.startNode('late', '127.0.0.140', settings);
    await late.waitFor((n) => n.result !== undefined || !n.alive, 60_000, 'decide (late joiner)');
    expect(late.result, w.describe()).toMatchObject({ formedNewCluster: false });
    assertOneCluster([...nodes, late], { lateJoiners: [late], survivor, describe: () => w.describe() });
  });
});

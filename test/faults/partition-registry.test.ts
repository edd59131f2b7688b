import { afterAll, expect, it } from 'vitest';
import { CliFleet, hostPort, sleep, within, type CliNode } from './netns/cli-nodes.js';
import { startEtcdIn, type NamespacedEtcd } from './netns/etcd.js';
import { TestNetwork, type NetNode } from './netns/network.js';
import { judge, untilOneCluster } from './netns/one-cluster.js';

/*
 * Issue 9, network partitions: a node cut off from its registry while it stays alive.
 *
 * Real etcd in a namespace of its own, lock strategy, leaseTtlSeconds 2, every node a CLI process in
 * its own namespace. Founder A forms alone, then nftables cut A off from etcd (A keeps running and
 * keeps its beliefs). A's lease expires; B and C start, find A's first-seed stale and form a cluster
 * of their own. Then the partition heals.
 *
 * Invariant: after the heal exactly one cluster remains: B and C stand, A notices that the record
 * names another cluster and yields (prints {"conflict":…} naming the survivor, logs
 * `cluster conflict:` at error, exits 3), and a late node D joins the survivor without being given A.
 * Time bounds (generous, a loaded 2-core machine): A decides within 20 s; A's registration leaves
 * etcd within 15 s of the cut; B and C decide within 20 s; one cluster within 30 s of the heal
 * (gRPC must first notice the stalled connection); D decides within 20 s. About 25 s in all.
 */

const SERVICE = 'netns-registry';
const PORT = 7626;
const LEASE_TTL_S = 2;

let net: TestNetwork | undefined;
let fleet: CliFleet | undefined;
let etcd: NamespacedEtcd | undefined;
afterAll(async () => {
  await fleet?.cleanup();
  await etcd?.stop();
  await net?.destroy();
});

it('a founder cut off from etcd past its lease yields to the cluster formed meanwhile; a late node joins that one', { timeout: 150_000 }, async () => {
  net = await TestNetwork.create();
  const etcdNode = await net.addNode('etcd', 10);
  const [a, b, c, d] = (await net.addNodes(['a', 'b', 'c', 'd'])) as [NetNode, NetNode, NetNode, NetNode];
  etcd = await startEtcdIn(net, etcdNode);
  fleet = await CliFleet.create(net);
  const f = fleet;
  const registry = etcd;
  const config = (n: NetNode) => ({
    service: SERVICE,
    discovery: { method: 'etcd', endpoints: [registry.endpoint], leaseTtlSeconds: LEASE_TTL_S },
    bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 90_000 },
    management: { host: n.address, port: PORT },
    self: { host: n.address },
  });
  const describe = () => `${f.describe()}\n--- etcd log\n${registry.log()}`;
  const keys = async () => registry.range(`clusterseed/${SERVICE}/`);
  const aKey = `clusterseed/${SERVICE}/nodes/${encodeURIComponent(`${a.address}:${PORT}`)}`;

  const nodeA = await f.start(a, config(a));
  await within(20_000, 'A decides', () => nodeA.result !== undefined || !nodeA.alive, describe);
  expect(nodeA.result, describe()).toMatchObject({ formedNewCluster: true });
  expect(Object.keys(await keys())).toContain(aKey);

  await net.isolate(a, [etcdNode]);
  const cutAt = Date.now();
  const leaseGoneMs = await within(15_000, "A's registration expires in etcd", async () => !(aKey in (await keys())), describe);

  const nodeB = await f.start(b, config(b));
  const nodeC = await f.start(c, config(c));
  await within(20_000, 'B and C decide', () => [nodeB, nodeC].every((n) => n.result !== undefined || !n.alive), describe);
  const second = [nodeB, nodeC];
  expect(
    second.every((n) => n.result),
    describe(),
  ).toBe(true);
  expect(
    second.filter((n) => n.result!.formedNewCluster),
    describe(),
  ).toHaveLength(1);
  const survivor = second[0]!.firstSeed!;
  expect(second[1]!.firstSeed).toBe(survivor);
  expect(survivor).not.toBe(nodeA.firstSeed);

  // Keep A cut off for 3 leases in all (its gRPC stream stalls and backs off, as across a real cut);
  // it never stopped running.
  await sleep(Math.max(0, cutAt + 3 * LEASE_TTL_S * 1000 - Date.now()));
  expect(nodeA.alive, describe()).toBe(true);
  await net.heal();
  const healedAt = Date.now();
  const cutMs = healedAt - cutAt;

  const nodes: CliNode[] = [nodeA, nodeB, nodeC];
  const { ms: oneClusterMs, verdict } = await untilOneCluster(nodes, 30_000, describe);
  expect(verdict.survivor).toBe(survivor);
  expect(verdict.yielded.map((n) => n.name)).toEqual(['a']);
  expect(
    nodeA.logLines('error').some((l) => l.includes('cluster conflict:')),
    describe(),
  ).toBe(true);

  // The record names the survivor, and a node started now joins it, without A among its seeds.
  const record = JSON.parse((await keys())[`clusterseed/${SERVICE}/first-seed`] ?? 'null') as { host: string; port: number } | null;
  expect(record && hostPort(record)).toBe(survivor);
  const nodeD = await f.start(d, config(d));
  await within(20_000, 'late node D decides', () => nodeD.result !== undefined || !nodeD.alive, describe);
  const final = await judge(nodes.concat(nodeD), [nodeD]);
  expect(final.problems, describe()).toEqual([]);

  console.log(
    `[partition-registry] lease gone ${leaseGoneMs} ms after the cut; A cut off ${cutMs} ms; one cluster ${oneClusterMs} ms after the heal ` +
      `(A yielded ${nodeA.conflictAt! - healedAt} ms after it, to ${survivor}); survivor formed by ${second.find((n) => n.result!.formedNewCluster)!.name}`,
  );
});

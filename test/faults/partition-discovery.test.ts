import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawnDnsServer, type DnsServerProcess, type Zone } from '../servers/dns-server.js';
import { CliFleet, type CliNode } from './netns/cli-nodes.js';
import { TestNetwork, type NetNode } from './netns/network.js';
import { untilOneCluster } from './netns/one-cluster.js';

/*
 * Issue 9, reproduction 4: a split of discovery itself (two data centres, or a registry split in two).
 *
 * 5 CLI nodes, each in its own namespace, lowest-address on DNS A records, expectedContactPoints 5.
 * Two real DNS servers (test/servers/dns-server.ts, on this process's address on the test bridge),
 * one per side: side X's server lists only X's 2 nodes, side Y's only Y's 3. The network itself is
 * not cut: nobody probes what it cannot discover. The heal gives both servers the full zone.
 *
 * 1. Default quorum (requiredContactPoints ⌊5/2⌋+1 = 3). Invariant: side X (2 nodes, with the lowest
 *    address) never forms; after the heal everyone is in one cluster and nobody yields.
 * 2. Explicit requiredContactPoints 2 (below the quorum). Invariant: every node warns about the
 *    partition risk at start; after the heal exactly one cluster stands, the larger one (DESIGN
 *    §5.5.4), and every node of the other cluster yielded (exit 3, naming the survivor). What happens
 *    while split (both sides form: the risk the warning names) is logged, not asserted as a success.
 *    The heal comes 1 s after the last decision, before any conflict check has run: the survivor
 *    rule must not depend on a check round having counted the members before the heal.
 * Time bounds: case 1 holds the split 8 s (the 1.5 s stable margin several times over), case 2 until
 * every node decided (within 20 s) plus 1 s; after the heal one
 * cluster within 30 s (detection runs every conflictCheckIntervalMs, default 5 s); a late node
 * decides within 20 s. About 20 s per case.
 */

const settings = {
  discoveryIntervalMs: 200,
  probeIntervalMs: 200,
  probeTimeoutMs: 1500,
  probeFailureWindowMs: 4000,
  stableMarginMs: 1500,
  bootstrapTimeoutMs: 90_000,
  expectedContactPoints: 5,
};
const SPLIT_MS = 8000;
const NAME = 'nodes.netns.test';
const zoneOf = (nodes: readonly NetNode[]): Zone => ({ records: nodes.map((n) => ({ name: NAME, type: 'A' as const, ttl: 0, data: n.address })) });

let net: TestNetwork | undefined;
let fleet: CliFleet | undefined;
let dns: DnsServerProcess[] = [];
afterEach(async () => {
  await fleet?.cleanup();
  fleet = undefined;
  await Promise.all(dns.map((d) => d.stop()));
  dns = [];
});
afterAll(async () => {
  await net?.destroy();
});

interface Split {
  nodes: CliNode[];
  sideX: CliNode[];
  sideY: CliNode[];
  /** The node decisions seen while split, e.g. "x1→198.18.3.1:7626". */
  decidedWhileSplit: string[];
  heal(): Promise<void>;
  startLate(): Promise<CliNode>;
  describe(): string;
}

/**
 * Starts the 5 nodes on two disjoint DNS views and holds the split, then returns before healing:
 * `hold: 'fixed'` holds it SPLIT_MS; `hold: 'decided'` until every node decided (at most 20 s), plus
 * 1 s: a heal right after formation, before the first conflict check (conflictCheckIntervalMs 5 s).
 */
async function splitDiscovery(bootstrap: Record<string, unknown>, hold: 'fixed' | 'decided'): Promise<Split> {
  net ??= await TestNetwork.create();
  const n = net;
  const names = ['x1', 'x2', 'y1', 'y2', 'y3', 'late'];
  const hosts = n.nodes.length > 0 ? n.nodes : await n.addNodes(names);
  const [x1, x2, y1, y2, y3, late] = hosts as [NetNode, NetNode, NetNode, NetNode, NetNode, NetNode];
  const x = [x1, x2];
  const y = [y1, y2, y3];
  const serverX = await spawnDnsServer(zoneOf(x), n.observerAddress);
  const serverY = await spawnDnsServer(zoneOf(y), n.observerAddress);
  dns = [serverX, serverY];
  fleet = await CliFleet.create(n);
  const f = fleet;
  const config = (node: NetNode, server: DnsServerProcess) => ({
    service: 'netns-discovery',
    discovery: { method: 'dns', name: `${NAME}.`, nameservers: [server.address], maxCacheTtlMs: 0, timeoutMs: 1000 },
    bootstrap: { ...settings, ...bootstrap },
    management: { host: node.address, port: 7626 },
    self: { host: node.address },
  });
  const sideX: CliNode[] = [];
  const sideY: CliNode[] = [];
  for (const node of x) sideX.push(await f.start(node, config(node, serverX)));
  for (const node of y) sideY.push(await f.start(node, config(node, serverY)));
  const nodes = [...sideX, ...sideY];
  const decided = new Map<string, string>();
  let end = Date.now() + (hold === 'fixed' ? SPLIT_MS : 20_000);
  while (Date.now() < end) {
    for (const c of nodes) if (c.result && !decided.has(c.name)) decided.set(c.name, `${c.name}→${c.firstSeed}`);
    if (hold === 'decided' && decided.size === nodes.length) end = Math.min(end, Date.now() + 1000);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    nodes,
    sideX,
    sideY,
    decidedWhileSplit: [...decided.values()],
    heal: async () => {
      await Promise.all([serverX.setZone(zoneOf([...x, ...y, late])), serverY.setZone(zoneOf([...x, ...y, late]))]);
    },
    startLate: () => f.start(late, config(late, serverX)),
    describe: () => f.describe(),
  };
}

describe('a split of discovery (issue 9, reproduction 4)', () => {
  it('default quorum: the 2-node side never forms; after the heal everyone is in one cluster', { timeout: 90_000 }, async () => {
    const split = await splitDiscovery({}, 'fixed');
    const xDecided = split.sideX.filter((c) => c.result || !c.alive);
    // Soft: a failure here still lets the heal part run and report too.
    expect
      .soft(
        xDecided.map((c) => c.name),
        `side X (2 of 5) decided while split: [${split.decidedWhileSplit.join(', ')}]\n${split.describe()}`,
      )
      .toEqual([]);

    await split.heal();
    const { ms, verdict } = await untilOneCluster(split.nodes, 30_000, split.describe);
    expect(
      verdict.yielded.map((c) => c.name),
      'a yield means a second cluster had formed',
    ).toEqual([]);
    const late = await split.startLate();
    const { verdict: final } = await untilOneCluster([...split.nodes, late], 20_000, split.describe, [late]);
    expect(final.survivor).toBe(verdict.survivor);
    console.log(
      `[partition-discovery] quorum: decided while split [${split.decidedWhileSplit.join(', ')}]; one cluster ${ms} ms after the heal (${verdict.survivor})`,
    );
  });

  it('explicit requiredContactPoints 2: the partition risk is logged; after the heal one cluster stands and the other side yielded', {
    timeout: 90_000,
  }, async () => {
    const split = await splitDiscovery({ requiredContactPoints: 2 }, 'decided');
    for (const c of split.nodes) {
      const warning = c.logLines('warn').find((l) => /requiredContactPoints/.test(l) && /partition/i.test(l));
      expect.soft(warning, `${c.name} did not warn about requiredContactPoints 2 of 5 expected\n${c.describe()}`).toBeDefined();
    }
    // Documented, not asserted: with 2 of 5 allowed, each side may form its own cluster while split.
    console.log(`[partition-discovery] requiredContactPoints 2: decided while split [${split.decidedWhileSplit.join(', ')}]`);

    await split.heal();
    const { ms, verdict } = await untilOneCluster(split.nodes, 30_000, split.describe);
    // The survivor rule (DESIGN §5.5.4, more members wins): side Y's 3 stand, only side X may yield.
    expect(
      verdict.yielded.filter((c) => split.sideY.includes(c)).map((c) => c.name),
      split.describe(),
    ).toEqual([]);
    const late = await split.startLate();
    const { verdict: final } = await untilOneCluster([...split.nodes, late], 20_000, split.describe, [late]);
    expect(final.survivor).toBe(verdict.survivor);
    console.log(
      `[partition-discovery] requiredContactPoints 2: one cluster ${ms} ms after the heal (${verdict.survivor}); ` +
        `yielded [${verdict.yielded.map((c) => c.name).join(', ')}]`,
    );
  });
});

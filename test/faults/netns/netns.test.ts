import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNetworkToolsInstalled } from '../../servers/install.js';
import { hostAddress, isTestAddress, linkOwner, namespaceName, namespaceOwner, subnetCandidates, subnetPrefix, SUBNETS } from './names.js';
import { TestNetwork, type NetNode } from './network.js';
import { blockRuleset, tableRuleset } from './nft-rules.js';
import { exec, isAlive } from './shell.js';
import { listNamespaces, listRootLinks } from './sweep.js';
import { startPongServer, tcpConnect } from './tcp-check.js';

/*
 * The partition library itself. Invariants: a partition drops real TCP traffic in both directions
 * between exactly the nodes it names and nothing else, heal() restores it, and nothing of ours
 * (namespaces cs-<pid>-…, the root link, nft tables, processes inside) survives destroy(), a crash,
 * process.exit or a signal. Time bound: each real-network test within 30 s (connect timeouts 1.5 s).
 */

// The partition tests run as root, whose tools may sit in sbin outside a user's PATH.
let ip = 'ip';
beforeAll(async () => {
  ip = (await ensureNetworkToolsInstalled()).ip;
});

describe('names and rules (pure)', () => {
  it('every subnet lies in 198.18.0.0/15 and a run tries each exactly once', () => {
    for (let k = 0; k < SUBNETS; k++) {
      expect(isTestAddress(hostAddress(k, 1)), hostAddress(k, 1)).toBe(true);
      expect(isTestAddress(hostAddress(k, 254))).toBe(true);
    }
    expect(subnetPrefix(0)).toBe('198.18.0');
    expect(subnetPrefix(511)).toBe('198.19.255');
    expect(() => subnetPrefix(512)).toThrow(/outside/);
    expect(new Set(subnetCandidates(4242)).size).toBe(SUBNETS);
    expect(isTestAddress('198.20.0.1')).toBe(false);
    expect(isTestAddress('10.0.0.1')).toBe(false);
  });

  it('names carry the owner pid, and only our names are recognised', () => {
    expect(namespaceName(123, 'a1')).toBe('cs-123-a1');
    expect(namespaceOwner('cs-123-a1')).toBe(123);
    expect(namespaceOwner('cs-x-a1')).toBeUndefined();
    expect(namespaceOwner('docker-123-a')).toBeUndefined();
    expect(() => namespaceName(1, 'A B')).toThrow(/must be/);
    expect(linkOwner('csh17', 'clusterseed-test pid=99')).toBe(99);
    expect(linkOwner('csh17', undefined)).toBeUndefined();
    expect(linkOwner('eth0', 'clusterseed-test pid=99')).toBeUndefined();
  });

  it('rules live in one inet table, drop both directions, and refuse what is not an IPv4 address', () => {
    const table = tableRuleset();
    expect(table).toMatch(/^table inet clusterseed_partition \{/);
    expect(table).toContain('ip saddr @blocked drop');
    expect(table).toContain('ip daddr @blocked drop');
    expect(blockRuleset(['198.18.0.2', '198.18.0.3'])).toBe('add element inet clusterseed_partition blocked { 198.18.0.2, 198.18.0.3 }\n');
    expect(() => blockRuleset(['198.18.0.2; flush ruleset'])).toThrow(/not an IPv4/);
  });
});

describe('real namespaces', () => {
  let net: TestNetwork;
  let a: NetNode, b: NetNode, c: NetNode;
  const PORT = 7000;

  beforeAll(async () => {
    net = await TestNetwork.create();
    [a, b, c] = (await net.addNodes(['a', 'b', 'c'])) as [NetNode, NetNode, NetNode];
    await Promise.all([a, b, c].map((n) => startPongServer(net, n, PORT)));
  });
  afterAll(async () => {
    await net?.destroy();
  });

  it('each node has its own namespace, loopback up and one 198.18.0.0/15 address', async () => {
    for (const n of [a, b, c]) {
      expect(isTestAddress(n.address)).toBe(true);
      const lo = await net.run(n, [ip, '-j', 'addr', 'show', 'lo']);
      const [link] = JSON.parse(lo.stdout) as { flags: string[]; addr_info: { local: string }[] }[];
      expect(link!.flags).toContain('UP');
      expect(link!.addr_info.map((x) => x.local)).toContain('127.0.0.1');
    }
    // Its own namespace: it sees its loopback and its end of the veth, nothing of the host's.
    const links = JSON.parse((await net.run(a, [ip, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    expect(new Set([a, b, c].map((n) => n.ns)).size).toBe(3);
  });

  it('a partition drops TCP both ways between the two sides only; heal restores it', { timeout: 30_000 }, async () => {
    expect(await tcpConnect(net, a, b, PORT)).toBe('pong');
    expect(await tcpConnect(net, b, a, PORT)).toBe('pong');

    await net.partition([a], [b]);
    expect(await net.droppedBy(a)).toEqual([b.address]);
    expect(await net.droppedBy(b)).toEqual([a.address]);
    expect(await net.droppedBy(c)).toEqual([]);
    // Dropped, not refused: the connect times out, as across a real partition.
    expect(await tcpConnect(net, a, b, PORT)).toBe('timeout');
    expect(await tcpConnect(net, b, a, PORT)).toBe('timeout');
    expect(await tcpConnect(net, a, c, PORT)).toBe('pong');
    expect(await tcpConnect(net, c, b, PORT)).toBe('pong');

    await net.heal();
    expect(await net.droppedBy(a)).toEqual([]);
    expect(await tcpConnect(net, a, b, PORT)).toBe('pong');
    expect(await tcpConnect(net, b, a, PORT)).toBe('pong');
  });

  it('isolate() cuts one node from a list; the observer still reaches every node', { timeout: 30_000 }, async () => {
    await net.isolate(c, [a, b]);
    expect(await tcpConnect(net, c, a, PORT)).toBe('timeout');
    expect(await tcpConnect(net, b, c, PORT)).toBe('timeout');
    expect(await tcpConnect(net, a, b, PORT)).toBe('pong');
    const observed = await exec(
      process.execPath,
      [
        '-e',
        `require('net').connect(${PORT}, '${c.address}').on('data', (d) => { console.log(String(d)); process.exit(0); }).on('error', () => process.exit(1))`,
      ],
      { timeoutMs: 5000 },
    );
    expect(observed.stdout.trim()).toBe('pong');
    await net.heal();
    expect(await tcpConnect(net, c, a, PORT)).toBe('pong');
  });

  it('refuses partitions that make no sense', async () => {
    await expect(net.partition([a], [a, b])).rejects.toThrow(/both sides/);
    await expect(net.partition([], [b])).rejects.toThrow(/each side/);
  });
});

describe('cleanup', () => {
  it('destroy() kills the processes inside and leaves no namespace, link or table of ours', { timeout: 30_000 }, async () => {
    const net = await TestNetwork.create();
    const [x] = await net.addNodes(['x', 'y']);
    const sleeper = net.spawnIn(x!, 'sleep', ['600'], { stdio: 'ignore' });
    await new Promise((r) => sleeper.once('spawn', r));
    expect((await net.leftovers()).namespaces).toHaveLength(3);
    expect((await listRootLinks(ip)).map((l) => l.name)).toContain(net.rootLink);

    await net.destroy();
    expect(await net.leftovers()).toEqual({ namespaces: [], links: [] });
    expect(sleeper.signalCode).toBe('SIGKILL');
    const ours = (await listNamespaces(ip)).filter((n) => n.startsWith(`cs-${process.pid}-`));
    expect(ours).toEqual([]);
    expect((await exec(ip, ['-o', 'link', 'show'])).stdout).not.toMatch(new RegExp(`\\b${net.rootLink}\\b`));
    await expect(net.addNode('z')).rejects.toThrow(/destroyed/);
  });

  const CHILD = fileURLToPath(new URL('./fixtures/network-child.ts', import.meta.url));

  /** Runs the fixture, lets it end in `how`, and returns what it reported it had built. */
  async function childThatEnds(how: 'exit' | 'throw' | 'SIGINT' | 'SIGTERM') {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, how === 'exit' || how === 'throw' ? how : 'wait'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const built = await new Promise<{ pid: number; namespaces: string[]; rootLink: string; sleeper: number }>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString())));
      child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before building: ${stderr}`)));
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    if (how === 'SIGINT' || how === 'SIGTERM') child.kill(how);
    return { built, exit: await exited, stderr: () => stderr };
  }

  async function expectGone(built: { pid: number; namespaces: string[]; rootLink: string; sleeper: number }) {
    expect(built.namespaces).toHaveLength(3);
    const present = await listNamespaces(ip);
    expect(present.filter((n) => n.startsWith(`cs-${built.pid}-`))).toEqual([]);
    expect((await listRootLinks(ip)).filter((l) => l.alias === `clusterseed-test pid=${built.pid}`)).toEqual([]);
    // The process the fixture started inside a namespace died with it.
    await waitUntil(() => !isAlive(built.sleeper), 5000);
  }

  for (const how of ['exit', 'throw', 'SIGINT', 'SIGTERM'] as const) {
    it(`a process that ends by ${how} without its own cleanup leaves nothing behind`, { timeout: 30_000 }, async () => {
      const { built, exit, stderr } = await childThatEnds(how);
      if (how === 'exit') expect(exit.code).toBe(7);
      if (how === 'throw') expect(stderr()).toContain('deliberate uncaught exception');
      if (how === 'SIGINT' || how === 'SIGTERM') expect(exit.signal).toBe(how); // the signal still ends it
      await expectGone(built);
    });
  }

  it('a new network sweeps leftovers of dead runs and leaves live runs alone', { timeout: 30_000 }, async () => {
    const dead = spawnSync('true').pid!; // a pid that just ended
    expect(isAlive(dead)).toBe(false);
    const leftover = namespaceName(dead, 'old');
    const live = namespaceName(1, 'live'); // pid 1 always exists
    await exec(ip, ['netns', 'add', leftover]);
    await exec(ip, ['netns', 'add', live]);
    try {
      const net = await TestNetwork.create();
      await net.destroy();
      const present = await listNamespaces(ip);
      expect(present).not.toContain(leftover);
      expect(present).toContain(live);
    } finally {
      await exec(ip, ['netns', 'del', leftover], { allowFail: true });
      await exec(ip, ['netns', 'del', live], { allowFail: true });
    }
  });

  it('without the privilege to create namespaces it fails loudly, naming the fix', { timeout: 30_000 }, async () => {
    // The same fixture as user nobody: no CAP_NET_ADMIN, so TestNetwork.create() must throw.
    const r = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', CHILD, 'exit'], {
      allowFail: true,
      env: { ...process.env, HOME: '/tmp' },
    });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(7);
    expect(r.stderr).toContain('cannot create a network namespace');
    expect(r.stderr).toContain('never skipped');
  });
});

async function waitUntil(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

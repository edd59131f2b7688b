import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { ensureNetworkToolsInstalled, type NetworkTools } from '../../servers/install.js';
import { trackForExit, untrackForExit } from './exit-cleanup.js';
import {
  bridgeName,
  hostAddress,
  hubName,
  LINK_ALIAS_PREFIX,
  MAX_NODE_HOST,
  namespaceName,
  NFT_TABLE,
  NS_PREFIX,
  OBSERVER_HOST,
  rootLinkName,
  subnetCandidates,
  subnetPrefix,
} from './names.js';
import { BLOCKED_SET, blockRuleset, deleteTableRuleset, healRuleset, tableRuleset } from './nft-rules.js';
import { CommandError, exec, execSync, type ExecOptions, type ExecResult } from './shell.js';
import { killProcessesIn, listNamespaces, listRootLinks, sweepLeftovers } from './sweep.js';

/** One node: a network namespace of its own, with loopback and one address on the test bridge. */
export interface NetNode {
  name: string;
  ns: string;
  address: string;
}

/**
 * A test network of real network namespaces (DESIGN §8, faults): a hub namespace holds the bridge;
 * each node's namespace hangs on it through a veth pair; this process (the observer) reaches every
 * node through one more veth, so tests can probe endpoints and health checks directly. The bridge
 * lives in a namespace of its own, not in the root one, so the host's own netfilter (Docker's FORWARD
 * DROP with br_netfilter, on CI runners) never sees the traffic between nodes.
 *
 * Partitions are nftables drops inside the nodes' namespaces (see nft-rules.ts); the observer is
 * never cut off.
 */
export class TestNetwork {
  readonly pid = process.pid;
  readonly hub: string;
  readonly nodes: NetNode[] = [];
  readonly #tools: NetworkTools;
  readonly #subnet: number;
  readonly #children = new Set<ChildProcess>();
  /** Addresses each namespace currently drops. */
  readonly #blocked = new Map<string, Set<string>>();
  #destroyed = false;

  private constructor(tools: NetworkTools, hub: string, subnet: number) {
    this.#tools = tools;
    this.hub = hub;
    this.#subnet = subnet;
  }

  /**
   * Installs iproute2/nftables when missing, removes leftovers of dead runs, then builds the hub.
   * Throws loudly when namespaces cannot be created here: the partition tests are never skipped.
   */
  static async create(): Promise<TestNetwork> {
    const tools = await ensureNetworkToolsInstalled();
    await sweepLeftovers(tools.ip);
    const hub = hubName(process.pid);
    const made = await exec(tools.ip, ['netns', 'add', hub], { allowFail: true });
    if (made.code !== 0) throw cannotCreateNamespaces(made);
    // Registered before anything else exists, so a failure below still removes the hub.
    let network: TestNetwork | undefined;
    try {
      const subnet = await claimSubnet(tools.ip, hub);
      network = new TestNetwork(tools, hub, subnet);
      trackForExit(network);
      await network.#buildHub();
      return network;
    } catch (err) {
      if (network) await network.destroy();
      else await exec(tools.ip, ['netns', 'del', hub], { allowFail: true });
      throw err;
    }
  }

  /** This process's address on the bridge: reaches every node whatever the partition. */
  get observerAddress(): string {
    return hostAddress(this.#subnet, OBSERVER_HOST);
  }

  get rootLink(): string {
    return rootLinkName(this.#subnet);
  }

  get bridge(): string {
    return bridgeName(this.#subnet);
  }

  /** The address node number `host` gets (1–200), for configs written before the node exists. */
  addressOf(host: number): string {
    return hostAddress(this.#subnet, host);
  }

  async #buildHub(): Promise<void> {
    const { ip } = this.#tools;
    const obs = this.rootLink;
    await exec(ip, ['link', 'set', obs, 'alias', `${LINK_ALIAS_PREFIX}${this.pid}`]);
    await exec(ip, ['addr', 'add', `${this.observerAddress}/24`, 'dev', obs]);
    await exec(ip, ['link', 'set', obs, 'up']);
    await exec(ip, ['-n', this.hub, 'link', 'set', 'lo', 'up']);
    await exec(ip, ['-n', this.hub, 'link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0']);
    await exec(ip, ['-n', this.hub, 'link', 'set', this.bridge, 'up']);
    await exec(ip, ['-n', this.hub, 'link', 'set', 'obs', 'master', this.bridge, 'up']);
  }

  /** Adds a node namespace; `host` (1–200) picks its address, default the next free one. */
  async addNode(name: string, host = this.#nextHost()): Promise<NetNode> {
    this.#checkAlive();
    if (host < 1 || host > MAX_NODE_HOST) throw new Error(`netns: host number ${host} outside 1–${MAX_NODE_HOST}`);
    const ns = namespaceName(this.pid, name);
    const address = hostAddress(this.#subnet, host);
    if (this.nodes.some((n) => n.ns === ns || n.address === address)) throw new Error(`netns: node ${name} or address ${address} exists already`);
    const node: NetNode = { name, ns, address };
    const { ip } = this.#tools;
    await exec(ip, ['netns', 'add', ns]);
    this.nodes.push(node); // from here on destroy() removes it
    const port = `csv${host}`;
    await exec(ip, ['link', 'add', port, 'netns', this.hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await exec(ip, ['-n', this.hub, 'link', 'set', port, 'master', this.bridge, 'up']);
    await exec(ip, ['-n', ns, 'link', 'set', 'lo', 'up']);
    await exec(ip, ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await exec(ip, ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await this.#nft(ns, tableRuleset());
    this.#blocked.set(ns, new Set());
    return node;
  }

  async addNodes(names: string[]): Promise<NetNode[]> {
    const out: NetNode[] = [];
    for (const name of names) out.push(await this.addNode(name)); // sequential: host numbers follow the order
    return out;
  }

  #nextHost(): number {
    const used = new Set(this.nodes.map((n) => Number(n.address.split('.')[3])));
    for (let h = 1; h <= MAX_NODE_HOST; h++) if (!used.has(h)) return h;
    throw new Error('netns: no host number left');
  }

  /** Cuts every node of `a` off from every node of `b`, both directions (drops: connects time out). */
  async partition(a: readonly NetNode[], b: readonly NetNode[]): Promise<void> {
    this.#checkAlive();
    for (const n of [...a, ...b]) if (!this.nodes.includes(n)) throw new Error(`netns: ${n.name} is not a node of this network`);
    if (a.some((n) => b.includes(n))) throw new Error('netns: a node cannot be on both sides of a partition');
    if (a.length === 0 || b.length === 0) throw new Error('netns: a partition needs a node on each side');
    // All namespaces at once, so the cut is as close to one instant as processes allow.
    await Promise.all([...a.map((n) => this.#block(n, b)), ...b.map((n) => this.#block(n, a))]);
  }

  /** Cuts `node` off from each of `from` (the rest of the network still reaches it). */
  isolate(node: NetNode, from: readonly NetNode[]): Promise<void> {
    return this.partition([node], from);
  }

  async #block(node: NetNode, peers: readonly NetNode[]): Promise<void> {
    await this.#nft(node.ns, blockRuleset(peers.map((p) => p.address)));
    const set = this.#blocked.get(node.ns)!;
    for (const p of peers) set.add(p.address);
  }

  /** Removes every partition. */
  async heal(): Promise<void> {
    this.#checkAlive();
    const cut = this.nodes.filter((n) => (this.#blocked.get(n.ns)?.size ?? 0) > 0);
    await Promise.all(
      cut.map(async (n) => {
        await this.#nft(n.ns, healRuleset());
        this.#blocked.get(n.ns)!.clear();
      }),
    );
  }

  /** The addresses `node` drops right now, read back from the kernel (not from our bookkeeping). */
  async droppedBy(node: NetNode): Promise<string[]> {
    const r = await this.#nftCommand(node.ns, ['-j', 'list', 'set', 'inet', NFT_TABLE, BLOCKED_SET]);
    const body = JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] };
    return body.nftables.flatMap((x) => x.set?.elem ?? []).sort();
  }

  /** Runs a command to completion inside the node's namespace (`ip netns exec`). */
  run(node: NetNode, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.#checkAlive();
    return exec(this.#tools.ip, ['netns', 'exec', node.ns, ...argv], options);
  }

  /**
   * Starts a process inside the node's namespace. `ip netns exec` execs the command (no fork), so
   * the returned child's pid is the command's own: signals (SIGSTOP, SIGKILL) reach it directly.
   * destroy() kills it if it is still running.
   */
  spawnIn(node: NetNode, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    this.#checkAlive();
    const child = spawn(this.#tools.ip, ['netns', 'exec', node.ns, cmd, ...args], options);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  #nft(ns: string, ruleset: string): Promise<ExecResult> {
    return this.#nftCommand(ns, ['-f', '-'], ruleset);
  }

  #nftCommand(ns: string, args: string[], input?: string): Promise<ExecResult> {
    return exec(this.#tools.ip, ['netns', 'exec', ns, this.#tools.nft, ...args], input === undefined ? {} : { input });
  }

  #checkAlive(): void {
    if (this.#destroyed) throw new Error('netns: this test network was destroyed');
  }

  /** What of this network still exists on the machine (a test of the cleanup asserts it is nothing). */
  async leftovers(): Promise<{ namespaces: string[]; links: string[] }> {
    const mine = `${NS_PREFIX}${this.pid}-`;
    const namespaces = (await listNamespaces(this.#tools.ip)).filter((n) => n.startsWith(mine));
    const links = (await listRootLinks(this.#tools.ip)).map((l) => l.name).filter((n) => n === this.rootLink);
    return { namespaces, links };
  }

  /** Kills the processes started in the network, then removes the tables, namespaces and links. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const { ip } = this.#tools;
    await Promise.all(
      [...this.#children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    const errors: string[] = [];
    for (const ns of [...this.nodes.map((n) => n.ns), this.hub]) {
      // Anything else still inside (a grandchild) would keep the namespace, and its links, alive.
      await killProcessesIn(ip, ns);
      if (ns !== this.hub) await this.#nft(ns, deleteTableRuleset()).catch(() => {}); // absent when addNode failed early
      const r = await exec(ip, ['netns', 'del', ns], { allowFail: true });
      if (r.code !== 0) errors.push(new CommandError([ip, 'netns', 'del', ns], r).message);
    }
    // Deleting the hub removed the observer's veth with its peer; this only catches a half-built hub.
    await exec(ip, ['link', 'del', this.rootLink], { allowFail: true });
    untrackForExit(this);
    if (errors.length > 0) throw new Error(errors.join('\n'));
  }

  /** destroy() for process 'exit' and signal handlers: synchronous, best effort, never throws. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const { ip } = this.#tools;
    for (const c of this.#children) c.kill('SIGKILL');
    for (const ns of [...this.nodes.map((n) => n.ns), this.hub]) {
      const pids = execSync(ip, ['netns', 'pids', ns], { allowFail: true })
        .stdout.split('\n')
        .map(Number)
        .filter((p) => p > 0);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      if (ns !== this.hub) execSync(ip, ['netns', 'exec', ns, this.#tools.nft, '-f', '-'], { input: deleteTableRuleset(), allowFail: true });
      execSync(ip, ['netns', 'del', ns], { allowFail: true });
    }
    execSync(ip, ['link', 'del', this.rootLink], { allowFail: true });
  }
}

function cannotCreateNamespaces(r: ExecResult): Error {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const message =
    `netns: cannot create a network namespace here (${r.stderr.trim() || `exit ${r.code}`}; uid ${uid ?? '?'}). ` +
    'The network-partition fault tests need root, or CAP_NET_ADMIN and CAP_SYS_ADMIN: run them as root ' +
    '(sudo -E env "PATH=$PATH" npx vitest run test/faults), or in a container started with ' +
    '--cap-add NET_ADMIN --cap-add SYS_ADMIN. They are never skipped.';
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${message}\n${bar}\n\n`);
  return new Error(message);
}

/**
 * Takes a /24 no other live run holds: creating the observer's root link `csh<k>` is the atomic
 * claim (the kernel refuses a second link of that name), and a /24 the host already routes is passed
 * over, so the tests never shadow a real network.
 */
async function claimSubnet(ip: string, hub: string): Promise<number> {
  for (const k of subnetCandidates(process.pid)) {
    const routed = await exec(ip, ['-4', 'route', 'show', 'match', `${subnetPrefix(k)}.0/24`]);
    // `match` lists every route covering the /24, the default route included: only a specific one counts.
    if (routed.stdout.split('\n').some((l) => l.startsWith('198.'))) continue;
    const r = await exec(ip, ['link', 'add', rootLinkName(k), 'type', 'veth', 'peer', 'name', 'obs', 'netns', hub], { allowFail: true });
    if (r.code === 0) return k;
    if (!/exists/i.test(r.stderr)) throw new CommandError([ip, 'link', 'add', rootLinkName(k)], r);
  }
  throw new Error('netns: every test subnet of 198.18.0.0/15 is in use');
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureServersInstalled } from './install.js';
import { fourLetterWord, freePort } from './processes.js';

/*
 * Replicated registries for the fault tests: a 3-member etcd cluster and a 3-server ZooKeeper
 * ensemble on loopback ports, from the binaries ensureServersInstalled() finds (or installs). Each
 * ensemble can name its current leader and kill, pause (SIGSTOP), resume or restart one member.
 * Everything started here is killed and its temp dir removed on stop(), on a failed start, and on
 * process exit (a crashed test file must not leave servers behind).
 *
 * Copied from processes.ts (not exported there): the launch-with-exit-handler and the log tail.
 */

export interface EnsembleMember {
  /** 1-based: the etcd member name suffix, the ZooKeeper myid. */
  readonly id: number;
  readonly name: string;
  /** etcd: `http://127.0.0.1:P`; ZooKeeper: `127.0.0.1:P`. */
  readonly clientAddress: string;
  readonly pid: number;
  /** Not killed (a paused member is alive). */
  readonly alive: boolean;
  readonly paused: boolean;
}

export interface Ensemble {
  readonly kind: 'etcd' | 'zookeeper';
  readonly members: readonly EnsembleMember[];
  /** The member that leads now, waiting (up to timeoutMs) while an election runs. */
  leader(timeoutMs?: number): Promise<EnsembleMember>;
  /** SIGKILL, and wait until the process is gone. */
  kill(member: EnsembleMember): Promise<void>;
  /** SIGSTOP / SIGCONT: the member answers nothing but keeps its sockets (a stand-in for isolation). */
  pause(member: EnsembleMember): void;
  resume(member: EnsembleMember): void;
  /** Starts a killed member again on the same ports and data (it rejoins), and waits until the ensemble is whole. */
  restart(member: EnsembleMember): Promise<void>;
  /** Log tails of every member, for failure messages. */
  describe(): string;
  /** Kills every member and removes the data. */
  stop(): Promise<void>;
}

export interface EtcdCluster extends Ensemble {
  /** Client URLs of all members, for `discovery.endpoints`. */
  readonly endpoints: string[];
}

export interface ZookeeperEnsemble extends Ensemble {
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, for `discovery.connectionString`. */
  readonly connectionString: string;
}

const leftovers = { children: new Set<ChildProcess>(), dirs: new Set<string>() };
process.once('exit', () => {
  for (const c of leftovers.children) c.kill('SIGKILL');
  for (const d of leftovers.dirs) rmSync(d, { recursive: true, force: true });
});

/** The end of a member's log (without the JVM's SLF4J start-up notices: the Debian jar logs nothing else). */
function tail(file: string, chars = 2000): string {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('SLF4J:'))
      .join('\n')
      .slice(-chars);
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `count` distinct free loopback ports (freePort alone may hand the same port out twice). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** One server process of an ensemble: how to (re)launch it, its state, and its log. */
class Member implements EnsembleMember {
  child: ChildProcess | undefined;
  paused = false;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly clientAddress: string,
    readonly logFile: string,
    private readonly command: [string, string[]],
  ) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  launch(): void {
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(this.command[0], this.command[1], { stdio: ['ignore', fd, fd] });
      leftovers.children.add(child);
      child.once('exit', () => leftovers.children.delete(child));
      this.child = child;
      this.paused = false;
    } finally {
      closeSync(fd);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    this.paused = false;
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.alive) throw new Error(`${this.name} is not running`);
    this.child!.kill(sig);
    this.paused = sig === 'SIGSTOP';
  }

  describe(): string {
    return (
      `--- ${this.name} ${this.clientAddress} ` +
      `pid=${this.pid} ${this.alive ? (this.paused ? 'paused' : 'running') : `exited (${this.child?.exitCode ?? this.child?.signalCode})`}` +
      `\n${tail(this.logFile)}`
    );
  }
}

/**
 * Launches the members and waits until `probes.ready()` (a first quorum); the shared part of both
 * ensembles. On a failed start everything is stopped before the error propagates.
 */
async function startEnsemble(
  kind: Ensemble['kind'],
  dir: string,
  members: Member[],
  readyTimeoutMs: number,
  probes: {
    ready(): Promise<boolean>;
    findLeader(): Promise<Member | undefined>;
  },
): Promise<Ensemble> {
  const describe = () => members.map((m) => m.describe()).join('\n');
  const own = (m: EnsembleMember) => {
    const found = members.find((x) => x === m);
    if (!found) throw new Error(`${m.name} is not a member of this ${kind} ensemble`);
    return found;
  };
  const waitReady = async (what: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = members.find((m) => !m.alive);
      if (dead) throw new Error(`${kind}: ${dead.name} exited before ${what}\n${describe()}`);
      if (await probes.ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${kind}: not ${what} after ${timeoutMs} ms\n${describe()}`);
      await sleep(100);
    }
  };
  const stop = async () => {
    await Promise.all(members.map((m) => m.kill()));
    await rm(dir, { recursive: true, force: true });
    leftovers.dirs.delete(dir);
  };
  for (const m of members) m.launch();
  try {
    await waitReady('serving in quorum', readyTimeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    kind,
    members,
    async leader(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const leader = await probes.findLeader().catch(() => undefined);
        if (leader) return leader;
        if (Date.now() > deadline) throw new Error(`${kind}: no leader after ${timeoutMs} ms\n${describe()}`);
        await sleep(100);
      }
    },
    kill: (m) => own(m).kill(),
    pause: (m) => own(m).signal('SIGSTOP'),
    resume: (m) => own(m).signal('SIGCONT'),
    async restart(m) {
      const member = own(m);
      if (member.alive) throw new Error(`${member.name} is still running`);
      member.launch();
      await waitReady(`whole again after restarting ${member.name}`, 60_000);
    },
    describe,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------- etcd

interface EtcdStatus {
  header?: { member_id?: string };
  leader?: string;
}

/** Maintenance Status over the gRPC gateway (etcd ≥ 3.4 serves /v3/*): this member's id and its leader's. */
export async function etcdStatus(clientUrl: string, timeoutMs = 1000): Promise<{ memberId: string; leader: string }> {
  const res = await fetch(`${clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`etcd status ${clientUrl}: HTTP ${res.status}`);
  const body = (await res.json()) as EtcdStatus;
  const memberId = body.header?.member_id;
  if (!memberId || body.leader === undefined) throw new Error(`etcd status ${clientUrl}: no member_id/leader in ${JSON.stringify(body)}`);
  return { memberId, leader: body.leader };
}

async function etcdHealthy(clientUrl: string): Promise<boolean> {
  const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const { etcd } = await ensureServersInstalled();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-etcd-cluster-'));
  leftovers.dirs.add(dir);
  const ports = await freePorts(2 * size);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const peer = (id: number) => `http://127.0.0.1:${ports[2 * (id - 1) + 1]}`;
  const client = (id: number) => `http://127.0.0.1:${ports[2 * (id - 1)]}`;
  const initialCluster = ids.map((id) => `etcd-${id}=${peer(id)}`).join(',');
  const token = `clusterseed-${randomBytes(4).toString('hex')}`;
  const members = ids.map(
    (id) =>
      new Member(id, `etcd-${id}`, client(id), path.join(dir, `etcd-${id}.log`), [
        etcd,
        [
          '--name',
          `etcd-${id}`,
          '--data-dir',
          path.join(dir, `etcd-${id}`),
          '--listen-client-urls',
          client(id),
          '--advertise-client-urls',
          client(id),
          '--listen-peer-urls',
          peer(id),
          '--initial-advertise-peer-urls',
          peer(id),
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          token,
          '--log-level',
          'warn',
        ],
      ]),
  );
  const live = () => members.filter((m) => m.alive && !m.paused);
  const cluster = await startEnsemble('etcd', dir, members, 60_000, {
    ready: async () => (await Promise.all(members.map((m) => etcdHealthy(m.clientAddress)))).every(Boolean),
    // The leader is the member whose own id is the leader a majority of the answering members name.
    findLeader: async () => {
      const answers = await Promise.all(live().map(async (m) => ({ m, s: await etcdStatus(m.clientAddress).catch(() => undefined) })));
      const ok = answers.filter((a) => a.s !== undefined && a.s.leader !== '0');
      const votes = new Map<string, number>();
      for (const a of ok) votes.set(a.s!.leader, (votes.get(a.s!.leader) ?? 0) + 1);
      const [leaderId, count] = [...votes].sort((x, y) => y[1] - x[1])[0] ?? ['', 0];
      if (count <= size / 2) return undefined;
      return ok.find((a) => a.s!.memberId === leaderId)?.m;
    },
  });
  return Object.assign(cluster, { endpoints: members.map((m) => m.clientAddress) });
}

// ----------------------------------------------------------------------------------------- ZooKeeper

/** `srvr` names the mode of a serving server; a server without a quorum answers that it is not serving. */
async function zookeeperMode(clientAddress: string): Promise<string | undefined> {
  const [host, port] = clientAddress.split(':') as [string, string];
  return /^Mode: (\w+)/m.exec(await fourLetterWord(host, Number(port), 'srvr'))?.[1];
}

export async function startZookeeperEnsemble(size = 3): Promise<ZookeeperEnsemble> {
  const { java, zookeeperJar } = await ensureServersInstalled();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-zk-ensemble-'));
  leftovers.dirs.add(dir);
  const ports = await freePorts(3 * size);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const clientPort = (id: number) => ports[3 * (id - 1)]!;
  const servers = ids.map((id) => `server.${id}=127.0.0.1:${ports[3 * (id - 1) + 1]}:${ports[3 * (id - 1) + 2]}`);
  const members: Member[] = [];
  for (const id of ids) {
    const dataDir = path.join(dir, `zk-${id}`);
    mkdirSync(dataDir, { recursive: true });
    await writeFile(path.join(dataDir, 'myid'), `${id}\n`);
    const cfg = path.join(dir, `zk-${id}.cfg`);
    // tickTime 500: sessions may be as short as 1 s and a follower notices a silent leader after
    // syncLimit ticks (2.5 s); initLimit leaves a slow JVM 10 s to sync with a new leader.
    await writeFile(
      cfg,
      [
        'tickTime=500',
        'initLimit=20',
        'syncLimit=5',
        `dataDir=${dataDir}`,
        `clientPort=${clientPort(id)}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        'minSessionTimeout=1000',
        'maxSessionTimeout=60000',
        'maxClientCnxns=0',
        '4lw.commands.whitelist=ruok,srvr,cons',
        ...servers,
        '',
      ].join('\n'),
    );
    // The Debian jar's manifest carries its Class-Path; C1 only: three JVMs start on two cores.
    members.push(
      new Member(id, `zk-${id}`, `127.0.0.1:${clientPort(id)}`, path.join(dir, `zk-${id}.log`), [
        java,
        ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', zookeeperJar, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg],
      ]),
    );
  }
  const live = () => members.filter((m) => m.alive && !m.paused);
  const zk = await startEnsemble('zookeeper', dir, members, 90_000, {
    ready: async () => {
      const modes = await Promise.all(members.map((m) => zookeeperMode(m.clientAddress)));
      return modes.every((x) => x === 'leader' || x === 'follower') && modes.filter((x) => x === 'leader').length === 1;
    },
    findLeader: async () => {
      const modes = await Promise.all(live().map(async (m) => ({ m, mode: await zookeeperMode(m.clientAddress).catch(() => undefined) })));
      const leaders = modes.filter((x) => x.mode === 'leader');
      const followers = modes.filter((x) => x.mode === 'follower');
      // A leader counts once a quorum serves under it (itself included).
      return leaders.length === 1 && leaders.length + followers.length > size / 2 ? leaders[0]!.m : undefined;
    },
  });
  return Object.assign(zk, { connectionString: members.map((m) => m.clientAddress).join(',') });
}

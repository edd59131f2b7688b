import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A server started for the tests: its address, and how to stop it and remove its data. */
export interface RunningServer {
  name: string;
  address: string;
  pid: number;
  startMs: number;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntil(what: string, child: ChildProcess, logFile: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready; log:\n${tail(logFile)}`);
    }
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms; log:\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

// Servers must not outlive the test run, even when it ends without its teardown (a crash, an
// uncaught error): kill whatever is left on exit.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function launch(cmd: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
}

/** ZooKeeper's four-letter command over a raw socket (ruok → imok). */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let data = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(word));
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

export async function startZookeeper(java: string, jar: string): Promise<RunningServer> {
  const started = performance.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-zk-'));
  const port = await freePort();
  const cfg = path.join(dir, 'zoo.cfg');
  // tickTime 500: sessions may be as short as 1 s (2 ticks), so session-expiry tests stay quick.
  await writeFile(
    cfg,
    [
      'tickTime=500',
      `dataDir=${path.join(dir, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      'minSessionTimeout=1000',
      'maxSessionTimeout=60000',
      'maxClientCnxns=0',
      '4lw.commands.whitelist=ruok,srvr,cons',
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'zookeeper.log');
  // The Debian jar's manifest carries its Class-Path; the standalone main class needs no scripts.
  const child = launch(java, ['-Xmx256m', '-XX:+UseSerialGC', '-cp', jar, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg], logFile);
  const stop = stopper(child, dir);
  try {
    await waitUntil('ZooKeeper', child, logFile, async () => (await fourLetterWord('127.0.0.1', port, 'ruok')) === 'imok', 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: 'zookeeper', address: `127.0.0.1:${port}`, pid: child.pid!, startMs: Math.round(performance.now() - started), stop };
}

export async function startEtcd(etcd: string): Promise<RunningServer> {
  const started = performance.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const logFile = path.join(dir, 'etcd.log');
  const child = launch(
    etcd,
    [
      '--name',
      'test',
      '--data-dir',
      path.join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `test=${peer}`,
      '--log-level',
      'warn',
    ],
    logFile,
  );
  const stop = stopper(child, dir);
  try {
    await waitUntil(
      'etcd',
      child,
      logFile,
      async () => {
        const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
        return res.ok && ((await res.json()) as { health?: string }).health === 'true';
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: 'etcd', address: client, pid: child.pid!, startMs: Math.round(performance.now() - started), stop };
}

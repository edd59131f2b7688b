import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { makePki, type Issued, type Pki } from '../fixtures/pki.js';
import { getTestServers } from './index.js';
import { ensureServersInstalled } from './install.js';
import { freePort } from './processes.js';

/*
 * A real etcd serving clients over TLS only, and requiring a client certificate signed by its CA:
 *   --listen-client-urls https://127.0.0.1:P --advertise-client-urls https://127.0.0.1:P
 *   --cert-file/--key-file (server cert with SANs 127.0.0.1, ::1, localhost) --trusted-ca-file --client-cert-auth
 * (startTlsEtcd({ clientCertAuth: false }): server TLS only, without --trusted-ca-file, which etcd 3.4
 * takes as --client-cert-auth; any client may connect)
 * The peer URL stays plain http on loopback (one member). Its PKI is made with openssl at start
 * (test/fixtures/pki.ts) and removed by stop(): no key material outlives the test.
 *   const etcd = await startTlsEtcd();
 *   etcd.endpoint, etcd.pki.caFile, etcd.client ({certFile, keyFile}), etcd.pki.issue(...)
 *   await etcd.stop();
 */

export interface TlsEtcd {
  /** `https://127.0.0.1:P` */
  endpoint: string;
  pki: Pki;
  /** A client certificate signed by the server's CA (CN "clusterseed-test-client", not an etcd user). */
  client: Issued;
  pid: number;
  startMs: number;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

function health(endpoint: string, pki: Pki, client: Issued): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${endpoint}/health`,
      {
        ca: readFileSync(pki.caFile),
        cert: readFileSync(client.certFile),
        key: readFileSync(client.keyFile),
        timeout: 1000,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 && (JSON.parse(body) as { health?: string }).health === 'true');
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface TlsEtcdOptions {
  /** `--client-cert-auth` (clients must present a certificate signed by the CA) [true]. */
  clientCertAuth?: boolean;
}

export async function startTlsEtcd({ clientCertAuth = true }: TlsEtcdOptions = {}): Promise<TlsEtcd> {
  const started = performance.now();
  // Installs etcd-server through the shared global setup when it is missing (one apt run per machine).
  await getTestServers();
  const { etcd } = await ensureServersInstalled();
  const pki = await makePki('clusterseed-etcd-test-ca');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-etcd-tls-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child!.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
    await pki.cleanup();
  };
  try {
    const server = await pki.issue('etcd', { usage: 'server' });
    const client = await pki.issue('clusterseed-test-client', { usage: 'client' });
    const clientPort = await freePort();
    const peerPort = await freePort();
    const endpoint = `https://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const logFile = path.join(dir, 'etcd.log');
    const fd = openSync(logFile, 'a');
    try {
      child = spawn(
        etcd,
        [
          '--name',
          'tls',
          '--data-dir',
          path.join(dir, 'data'),
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          peer,
          '--initial-advertise-peer-urls',
          peer,
          '--initial-cluster',
          `tls=${peer}`,
          '--cert-file',
          server.certFile,
          '--key-file',
          server.keyFile,
          // etcd 3.4 requires client certificates whenever --trusted-ca-file is set.
          ...(clientCertAuth ? ['--trusted-ca-file', pki.caFile, '--client-cert-auth'] : []),
          '--log-level',
          'warn',
          '--logger',
          'zap',
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    const proc = child;
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`etcd (TLS) exited (${proc.exitCode ?? proc.signalCode}) before it was ready; log:\n${tail(logFile)}`);
      }
      if (await health(endpoint, pki, client).catch(() => false)) break;
      if (Date.now() > deadline) throw new Error(`etcd (TLS) was not ready after 30 s; log:\n${tail(logFile)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { endpoint, pki, client, pid: proc.pid!, startMs: Math.round(performance.now() - started), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

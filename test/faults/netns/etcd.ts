import { mkdtemp, rm } from 'node:fs/promises';
import { openSync, closeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureServersInstalled } from '../../servers/install.js';
import type { NetNode, TestNetwork } from './network.js';

/*
 * A real single-member etcd inside a node's namespace, bound on that namespace's address, so an
 * nftables partition can cut nodes off from their registry. The flags are those of startEtcd in
 * test/servers/processes.ts; the peer URL stays on the namespace's loopback (one member).
 */

export interface NamespacedEtcd {
  /** `http://<address>:2379`: what the nodes' discovery.endpoints name. */
  endpoint: string;
  /** Keys and values under `prefix`, read through etcd's JSON gateway from the observer. */
  range(prefix: string): Promise<Record<string, string>>;
  log(): string;
  stop(): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** etcd's range end for "every key with this prefix": the prefix with its last byte incremented. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1]!++;
  return bytes.toString('base64');
}

export async function startEtcdIn(net: TestNetwork, node: NetNode): Promise<NamespacedEtcd> {
  const { etcd } = await ensureServersInstalled();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-netns-etcd-'));
  const endpoint = `http://${node.address}:2379`;
  const peer = 'http://127.0.0.1:2380';
  const logFile = path.join(dir, 'etcd.log');
  const fd = openSync(logFile, 'a');
  const child = net.spawnIn(
    node,
    etcd,
    [
      '--name',
      'test',
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
      `test=${peer}`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8').slice(-3000);
    } catch {
      return '(no log)';
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`etcd in ${node.ns} exited (${child.exitCode ?? child.signalCode}) before it was ready; log:\n${log()}`);
    }
    const healthy = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) })
      .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true')
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd in ${node.ns} was not healthy after 30 s; log:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    log,
    stop,
    async range(prefix) {
      const res = await fetch(`${endpoint}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(prefix), range_end: prefixEnd(prefix) }),
        signal: AbortSignal.timeout(3000),
      });
      if (!res.ok) throw new Error(`etcd range ${prefix}: HTTP ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { kvs?: { key: string; value?: string }[] };
      const out: Record<string, string> = {};
      for (const kv of body.kvs ?? []) out[Buffer.from(kv.key, 'base64').toString()] = Buffer.from(kv.value ?? '', 'base64').toString();
      return out;
    },
  };
}

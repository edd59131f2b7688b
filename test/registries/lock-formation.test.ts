import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { createDiscovery } from '../../src/registry.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { node, runLockNode, uniqueService, type Discovery, type LockNode } from './helpers.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

let zookeeper: string;
let etcd: string;
let fileDir: string;

beforeAll(async () => {
  ({ zookeeper, etcd } = await getTestServers());
  fileDir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-lock-'));
}, SERVERS_TIMEOUT_MS);
afterAll(async () => {
  if (fileDir) await rm(fileDir, { recursive: true, force: true });
});

const backends: [string, () => Discovery][] = [
  ['etcd', () => ({ method: 'etcd', endpoints: [etcd], leaseTtlSeconds: 3 })],
  ['zookeeper', () => ({ method: 'zookeeper', connectionString: zookeeper, sessionTimeoutMs: 4000 })],
  ['file', () => ({ method: 'file', directory: fileDir, ttlMs: 3000 })],
];

describe.each(backends)('lock strategy on %s', (_name, discovery) => {
  it('20 nodes bootstrapping at once form exactly one cluster and share its first seed', async () => {
    const service = uniqueService('formation');
    const nodes: LockNode[] = await Promise.all(Array.from({ length: 20 }, (_, i) => runLockNode(discovery(), service, node(i))));
    try {
      const formers = nodes.filter((n) => n.outcome.result.formedNewCluster);
      expect(formers).toHaveLength(1);
      const first = formatHostPort(formers[0]!.self);
      expect(formers[0]!.outcome.result.seeds.map(formatHostPort)).toEqual([first]);
      for (const n of nodes) {
        expect(formatHostPort(n.outcome.result.seeds[0]!)).toBe(first);
        expect(n.outcome.result.seeds.length).toBeLessThanOrEqual(5);
        expect(n.outcome.result.strategy).toBe('lock');
        expect(n.joined).toEqual([n.outcome.result.seeds]);
      }
      // A late joiner finds the same cluster.
      const late = await runLockNode(discovery(), service, node(99));
      nodes.push(late);
      expect(late.outcome.result.formedNewCluster).toBe(false);
      expect(formatHostPort(late.outcome.result.seeds[0]!)).toBe(first);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
    // Graceful close removes every registration.
    const reader = await createDiscovery(discovery() as never);
    try {
      expect(await reader.resolve({ service })).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

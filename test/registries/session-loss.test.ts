import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostPort } from '../../src/address.js';
import { createDiscovery } from '../../src/registry.js';
import type { DiscoveryProvider, RegistryProvider } from '../../src/types.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { startTcpProxy, type TcpProxy } from '../servers/tcp-proxy.js';
import { eventually, node, recordingLogger, uniqueService } from './helpers.js';

let zookeeper: string;
let etcd: string;

beforeAll(async () => {
  ({ zookeeper, etcd } = await getTestServers());
}, SERVERS_TIMEOUT_MS);

const resolveCount = async (p: DiscoveryProvider, service: string) => (await p.resolve({ service })).length;

describe('zookeeper session expiry', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const target = parseHostPort(zookeeper);
    proxy = await startTcpProxy({ host: target.host, port: target.port! });
  });
  afterAll(async () => proxy?.close());

  it('re-registers in a new session and logs it', async () => {
    const service = uniqueService('zk-expiry');
    const logger = recordingLogger();
    const provider = (await createDiscovery({ method: 'zookeeper', connectionString: proxy.address, sessionTimeoutMs: 2000 } as never, {
      logger,
    })) as RegistryProvider;
    const observer = await createDiscovery({ method: 'zookeeper', connectionString: zookeeper } as never);
    try {
      const registration = await provider.register(node(1), { service });
      expect(await observer.resolve({ service })).toEqual([node(1)]);
      proxy.partition();
      // The server expires the session: its ephemeral registration disappears.
      await eventually(async () => (await resolveCount(observer, service)) === 0, 30_000, 'the session to expire');
      proxy.resume();
      // The observer can see the new znode before the provider has logged it: wait for both.
      const reRegistered = () => logger.lines.some((l) => l.level === 'info' && /re-registered/.test(l.msg));
      await eventually(async () => (await resolveCount(observer, service)) === 1 && reRegistered(), 30_000, 're-registration');
      expect(logger.lines.some((l) => l.level === 'warn' && /session expired/.test(l.msg))).toBe(true);
      await registration.close();
      expect(await observer.resolve({ service })).toEqual([]);
    } finally {
      proxy.resume();
      await provider.close();
      await observer.close();
    }
  });
});

describe('etcd lease loss', () => {
  it('re-registers on a new lease and logs it', async () => {
    const service = uniqueService('etcd-lease');
    const logger = recordingLogger();
    const provider = (await createDiscovery({ method: 'etcd', endpoints: [etcd], leaseTtlSeconds: 2 } as never, { logger })) as RegistryProvider;
    const observer = await createDiscovery({ method: 'etcd', endpoints: [etcd] } as never);
    const admin = new Etcd3({ hosts: etcd });
    try {
      const registration = await provider.register(node(1), { service });
      expect(await observer.resolve({ service })).toEqual([node(1)]);
      // An operator (or a partition longer than the TTL) ends the lease: revoke it behind our back.
      const res = await admin.get(`clusterseed/${service}/nodes/127.0.0.1%3A20001`).exec();
      const leaseId = res.kvs[0]!.lease;
      expect(leaseId).not.toBe('0');
      await admin.leaseClient.leaseRevoke({ ID: leaseId });
      await eventually(async () => logger.lines.some((l) => /lease lost/.test(l.msg)), 30_000, 'the lease loss to be noticed');
      await eventually(
        async () => {
          const now = await admin.get(`clusterseed/${service}/nodes/127.0.0.1%3A20001`).exec();
          // The key can be visible before the provider has logged the re-registration: wait for both.
          return now.kvs.length === 1 && now.kvs[0]!.lease !== leaseId && logger.lines.some((l) => l.level === 'info' && /re-registered/.test(l.msg));
        },
        30_000,
        're-registration on a new lease',
      );
      await registration.close();
      expect(await observer.resolve({ service })).toEqual([]);
    } finally {
      await provider.close();
      await observer.close();
      admin.close();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider, type RegistryProvider } from '../../src/types.js';
import { getTestServers, SERVERS_TIMEOUT_MS, type TestServersInfo } from '../servers/index.js';

/*
 * A second registration of the same point is a no-op on etcd and ZooKeeper too (the lock strategy
 * registers after bootstrap() did), and the two copies share one entry by reference count: closing
 * one leaves the entry in place for the other; the last close deletes it.
 */

let servers: TestServersInfo;
beforeAll(async () => {
  servers = await getTestServers();
}, SERVERS_TIMEOUT_MS);

const self = { host: '127.0.0.1', port: 7626 };

async function registry(method: 'etcd' | 'zookeeper'): Promise<RegistryProvider> {
  const provider =
    method === 'etcd'
      ? await createDiscovery({ method: 'etcd', endpoints: [servers.etcd], prefix: `shared-${randomBytes(4).toString('hex')}/` })
      : await createDiscovery({ method: 'zookeeper', connectionString: servers.zookeeper, rootPath: `/shared-${randomBytes(4).toString('hex')}` });
  if (!isRegistryProvider(provider)) throw new Error(`${method} must be a registry`);
  return provider;
}

describe.each(['etcd', 'zookeeper'] as const)('%s: shared registrations', (method) => {
  it('closing one of two registrations of the same point keeps the entry; the last close removes it', async () => {
    const provider = await registry(method);
    try {
      const first = await provider.register(self, { service: 'svc' });
      const second = await provider.register(self, { service: 'svc' });
      expect(await provider.resolve({ service: 'svc' })).toMatchObject([self]);
      await second.close();
      expect(await provider.resolve({ service: 'svc' })).toMatchObject([self]);
      await first.close();
      expect(await provider.resolve({ service: 'svc' })).toEqual([]);
    } finally {
      await provider.close();
    }
  });
});

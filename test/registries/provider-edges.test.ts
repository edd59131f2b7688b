import { Etcd3 } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import type { RegistryProvider } from '../../src/types.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';
import { freePort } from '../servers/processes.js';
import { node, recordingLogger, uniqueService } from './helpers.js';

let zk: string;
let etcd: string;

beforeAll(async () => {
  ({ zookeeper: zk, etcd } = await getTestServers());
}, SERVERS_TIMEOUT_MS);

function zkCreate(path: string, data: string): Promise<void> {
  const client = zookeeper.createClient(zk);
  client.connect();
  return new Promise<void>((resolve, reject) =>
    client.mkdirp(path.slice(0, path.lastIndexOf('/')), zookeeper.ACL.OPEN_ACL_UNSAFE, (err) => {
      if (err) return reject(err);
      client.create(path, Buffer.from(data), zookeeper.ACL.OPEN_ACL_UNSAFE, zookeeper.CreateMode.PERSISTENT, (e) => (e ? reject(e) : resolve()));
    }),
  ).finally(() => client.close());
}

/** With a garbage entry next to a real registration, resolve returns the real one and warns. */
async function expectMalformedSkipped(provider: RegistryProvider, logger: ReturnType<typeof recordingLogger>, service: string): Promise<void> {
  const reg = await provider.register(node(1), { service });
  expect(await provider.resolve({ service })).toEqual([node(1)]);
  expect(logger.lines.some((l) => l.level === 'warn' && /malformed/.test(l.msg))).toBe(true);
  await reg.close();
}

describe('zookeeper provider', () => {
  it('skips a malformed registration with a warning and returns the others', async () => {
    const service = uniqueService('zk-malformed');
    const logger = recordingLogger();
    const provider = (await createDiscovery({ method: 'zookeeper', connectionString: zk } as never, { logger })) as RegistryProvider;
    try {
      // resolve reads the names (the addresses), not the data: a name that is not a host:port is skipped.
      await zkCreate(`/clusterseed/${service}/nodes/garbage%3Anot-a-port`, '{"host": 42}');
      await expectMalformedSkipped(provider, logger, service);
    } finally {
      await provider.close();
    }
  });

  it('with digest credentials creates znodes others cannot read (AuthError), and never reveals the password', async () => {
    const service = uniqueService('zk-acl');
    const rootPath = `/acl-${service}`;
    const owner = (await createDiscovery({
      method: 'zookeeper',
      connectionString: zk,
      rootPath,
      username: 'app',
      password: 's3cret-pw',
    } as never)) as RegistryProvider;
    const peer = await createDiscovery({ method: 'zookeeper', connectionString: zk, rootPath, username: 'app', password: 's3cret-pw' } as never);
    const stranger = await createDiscovery({ method: 'zookeeper', connectionString: zk, rootPath } as never);
    try {
      await owner.register(node(1), { service });
      expect(await peer.resolve({ service })).toEqual([node(1)]);
      const err = (await stranger.resolve({ service }).then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { code: string };
      expect(err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
      expect(JSON.stringify({ m: err.message, h: (err as { hint?: string }).hint })).not.toContain('s3cret');
    } finally {
      await Promise.all([owner.close(), peer.close(), stranger.close()]);
    }
  });

  it('can be closed right after it was created (before its first connection)', async () => {
    const provider = await createDiscovery({ method: 'zookeeper', connectionString: zk } as never);
    await provider.close();
  });

  it('fails with a TimeoutError, not a hang, when the server is unreachable; close() still returns', async () => {
    const port = await freePort();
    const provider = await createDiscovery({ method: 'zookeeper', connectionString: `127.0.0.1:${port}` } as never);
    try {
      await expect(provider.resolve({ service: 'x' }, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT' });
    } finally {
      await provider.close();
    }
  });
});

describe('etcd provider', () => {
  it('skips a malformed registration with a warning and returns the others', async () => {
    const service = uniqueService('etcd-malformed');
    const logger = recordingLogger();
    const admin = new Etcd3({ hosts: etcd });
    const provider = (await createDiscovery({ method: 'etcd', endpoints: [etcd.replace('http://', '')] } as never, { logger })) as RegistryProvider;
    try {
      await admin.put(`clusterseed/${service}/nodes/garbage`).value('not json');
      await expectMalformedSkipped(provider, logger, service);
    } finally {
      await provider.close();
      admin.close();
    }
  });

  it('reports a malformed first-seed as a ProtocolError naming the key', async () => {
    const service = uniqueService('etcd-bad-seed');
    const admin = new Etcd3({ hosts: etcd });
    const provider = await createDiscovery({ method: 'etcd', endpoints: [etcd] } as never);
    try {
      await admin.put(`clusterseed/${service}/first-seed`).value('{"host":""}');
      const lock = (provider as unknown as { seedLock(): import('../../src/lock/seed-lock.js').SeedLock }).seedLock();
      await expect(lock.readRecord({ service })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_PROTOCOL',
        message: expect.stringContaining(`clusterseed/${service}/first-seed`),
      });
    } finally {
      await provider.close();
      admin.close();
    }
  });

  it('fails with a typed error, not a hang, when etcd is unreachable; close() still returns', async () => {
    const port = await freePort();
    const provider = await createDiscovery({ method: 'etcd', endpoints: [`127.0.0.1:${port}`] } as never);
    try {
      const err = (await provider.resolve({ service: 'x' }, { timeoutMs: 1500 }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { code: string };
      expect(['CLUSTERSEED_E_TIMEOUT', 'CLUSTERSEED_E_DISCOVERY']).toContain(err.code);
    } finally {
      await provider.close();
    }
  });
});

describe('a lock attempt whose answer was lost', () => {
  it('etcd: a lock already on our lease with our value is ours (not a deadlock until exit)', async () => {
    const { EtcdProvider } = await import('../../providers/etcd/index.js');
    const service = uniqueService('etcd-lost-answer');
    const provider = (await createDiscovery({ method: 'etcd', endpoints: [etcd] } as never)) as unknown as InstanceType<typeof EtcdProvider>;
    const other = await createDiscovery({ method: 'etcd', endpoints: [etcd] } as never);
    try {
      // What a committed-but-timed-out attempt leaves behind.
      const lease = await provider.leaseId();
      await provider.client.put(`clusterseed/${service}/lock`).value('{"host":"127.0.0.1","port":20001}').lease(lease).exec();
      const held = await provider.seedLock().tryLock(node(1), { service });
      expect(held).toBeDefined();
      // Someone else's attempt fails while we hold it, and succeeds after release.
      const otherLock = (other as unknown as { seedLock(): import('../../src/lock/seed-lock.js').SeedLock }).seedLock();
      expect(await otherLock.tryLock(node(2), { service })).toBeUndefined();
      await held!.release();
      const next = await otherLock.tryLock(node(2), { service });
      expect(next).toBeDefined();
      await next!.release();
    } finally {
      await provider.close();
      await other.close();
    }
  });

  it('zookeeper: a lock node this session created with our value is ours', async () => {
    const { ZookeeperProvider } = await import('../../providers/zookeeper/index.js');
    const { ZookeeperOptions } = await import('../../providers/zookeeper/options.js');
    const { CreateMode } = await import('../../providers/zookeeper/session.js');
    const service = uniqueService('zk-lost-answer');
    // The bare provider (not the instrumented proxy): the test reaches into its session.
    const provider = new ZookeeperProvider(ZookeeperOptions.parse({ method: 'zookeeper', connectionString: zk }), {
      logger: silentLogger,
      clock: systemClock,
      env: {},
      createDiscovery: () => Promise.reject(new Error('unused')),
    });
    const other = await createDiscovery({ method: 'zookeeper', connectionString: zk } as never);
    try {
      const leftover = await provider.session.createIn(
        `/clusterseed/${service}/lock/lock-`,
        '{"host":"127.0.0.1","port":20001}',
        CreateMode.EPHEMERAL_SEQUENTIAL,
      );
      const held = await provider.seedLock().tryLock(node(1), { service });
      expect(held).toBeDefined();
      const otherLock = (other as unknown as { seedLock(): import('../../src/lock/seed-lock.js').SeedLock }).seedLock();
      expect(await otherLock.tryLock(node(2), { service })).toBeUndefined();
      await held!.release();
      expect(await provider.session.exists(leftover)).toBeNull();
      const next = await otherLock.tryLock(node(2), { service });
      expect(next).toBeDefined();
      await next!.release();
    } finally {
      await provider.close();
      await other.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/bootstrap/index.js';
import type { Logger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider } from '../../src/types.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { runningPod } from './provider-helpers.js';

/* The assembled provider (providers/kubernetes-api/index.ts) through createDiscovery, as users get it. */

let emu: KubernetesEmulator;
beforeAll(async () => {
  emu = await startKubernetesEmulator();
});
afterAll(async () => {
  await emu.close();
});

const discovery = (extra: Record<string, unknown> = {}) =>
  ({
    method: 'kubernetes-api',
    apiServer: emu.url,
    caFile: emu.caFile,
    tokenFile: emu.tokenFile,
    namespaceFile: emu.namespaceFile,
    portName: 'management',
    ...extra,
  }) as Parameters<typeof createDiscovery>[0];

function recordingLogger() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => lines.push({ level, msg: msg ?? '' });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('kubernetes-api provider', () => {
  it('the Pekko alias resolves app=<service> by default, in the namespace of the namespace file', async () => {
    emu.addPod(runningPod(1));
    emu.addPod(runningPod(2, { labels: { app: 'other' } }));
    const provider = await createDiscovery(discovery({ method: 'pekko-kubernetes-api' }));
    try {
      expect(provider.method).toBe('kubernetes-api');
      const points = await provider.resolve({ service: 'web' });
      expect(points).toEqual([{ host: '10.1.0.2', port: 7626, meta: { pod: 'web-1', namespace: 'default', node: 'node-1' } }]);
      const list = emu.requests.filter((r) => r.path === '/api/v1/namespaces/default/pods').at(-1)!;
      expect(list.query.labelSelector).toBe('app=web');
    } finally {
      await provider.close();
      emu.deletePod('default', 'web-1');
      emu.deletePod('default', 'web-2');
    }
  });

  it('watch() tells of an added pod at once (the coordinator then looks again)', async () => {
    const provider = await createDiscovery(discovery());
    const ac = new AbortController();
    let changes = 0;
    try {
      provider.watch!({ service: 'watched' }, () => changes++, ac.signal);
      await until(() => emu.requests.some((r) => r.query.watch !== undefined && r.query.labelSelector === 'app=watched'));
      emu.addPod(runningPod(3, { name: 'watched-3', labels: { app: 'watched' } }));
      await until(() => changes >= 1);
    } finally {
      ac.abort();
      await provider.close();
      emu.deletePod('default', 'watched-3');
    }
  });

  it('register() writes nothing and warns when no pod has the advertised address', async () => {
    const { logger, lines } = recordingLogger();
    const provider = await createDiscovery(discovery(), { logger });
    try {
      if (!isRegistryProvider(provider)) throw new Error('kubernetes-api must be a registry (the pod is its registration)');
      emu.resetRequests();
      const registration = await provider.register({ host: '10.99.0.1', port: 7626 }, { service: 'nobody' });
      expect(emu.requests.every((r) => r.method === 'GET')).toBe(true);
      expect(lines.some((l) => l.level === 'warn' && l.msg.includes('no Running pod matching the selector has this address'))).toBe(true);
      await registration.close();
    } finally {
      await provider.close();
    }
  });

  it('bootstrap() with the lock strategy on Leases: one node forms, a second joins; closing removes the member and frees the lock', async () => {
    const service = 'leased';
    const pod = (i: number, port: number) => ({
      name: `${service}-${i}`,
      labels: { app: service },
      podIP: '127.0.0.1',
      containers: [{ name: 'app', ports: [{ name: 'management', containerPort: port }] }],
    });
    const nodes = [];
    const ports = [24611, 24612];
    for (const [i, port] of ports.entries()) emu.addPod(pod(i, port));
    try {
      for (const port of ports) {
        nodes.push(
          await bootstrap({
            service,
            discovery: discovery(),
            bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 20_000 },
            management: { host: '127.0.0.1', port },
            self: { host: '127.0.0.1' },
            join: async () => {},
          }),
        );
      }
      expect(nodes.map((n) => n.result.formedNewCluster)).toEqual([true, false]);
      expect(nodes[1]!.result.seeds[0]).toMatchObject({ host: '127.0.0.1', port: ports[0] });
      const members = () =>
        JSON.parse(emu.lease('default', `clusterseed-${service}-members`)?.metadata.annotations['clusterseed.io/members'] ?? '[]') as unknown[];
      expect(members()).toHaveLength(2);
      await nodes.pop()!.close();
      expect(members()).toEqual([{ host: '127.0.0.1', port: ports[0] }]);
    } finally {
      for (const n of nodes) await n.close();
      for (const i of ports.keys()) emu.deletePod('default', `${service}-${i}`);
    }
    expect(emu.lease('default', `clusterseed-${service}-lock`)?.spec.holderIdentity ?? '').toBe('');
  });

  it('a missing CA file is a ConfigError naming the key, before any request', async () => {
    emu.resetRequests();
    const err = (await createDiscovery(discovery({ caFile: '/nonexistent/ca.crt' })).catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(err.code).toBe('CLUSTERSEED_E_CONFIG');
    expect(err.message).toContain('discovery.caFile');
    expect(emu.requests).toHaveLength(0);
  });
});

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

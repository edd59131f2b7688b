import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../providers/kubernetes-api/client.js';
import { KubernetesStatusError } from '../../providers/kubernetes-api/errors.js';
import { listPods, podsToContactPoints, type Pod } from '../../providers/kubernetes-api/pods.js';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { clientFor, runningPod } from './provider-helpers.js';

/* Which pods count, ports by name, paging and expired continue tokens — on the emulator's wire. */

let emu: KubernetesEmulator;
let client: KubernetesClient;

beforeAll(async () => {
  emu = await startKubernetesEmulator({ namespaces: ['default', 'shop', 'big'] });
  client = clientFor(emu);
});
afterEach(() => {
  emu.faults.clear();
  emu.resetRequests();
});
afterAll(async () => {
  client.close();
  await emu.close();
});

async function contactPoints(namespace: string, labelSelector: string, opts: Parameters<typeof podsToContactPoints>[1] = {}) {
  const { pods } = await listPods(client, { namespace, labelSelector });
  return podsToContactPoints(pods, opts);
}

describe('which pods count', () => {
  beforeAll(() => {
    const ns = 'shop';
    const port = [{ name: 'app', ports: [{ name: 'management', containerPort: 7626 }] }];
    emu.addPod({ namespace: ns, name: 'running', labels: { app: 'orders' }, podIP: '10.0.0.5', nodeName: 'n1', containers: port });
    emu.addPod({ namespace: ns, name: 'pending', labels: { app: 'orders' }, phase: 'Pending', podIP: '10.0.0.6', containers: port });
    emu.addPod({ namespace: ns, name: 'succeeded', labels: { app: 'orders' }, phase: 'Succeeded', podIP: '10.0.0.7', containers: port });
    emu.addPod({ namespace: ns, name: 'deleting', labels: { app: 'orders' }, podIP: '10.0.0.8', containers: port });
    emu.markDeleting(ns, 'deleting');
    emu.addPod({ namespace: ns, name: 'no-ip', labels: { app: 'orders' }, containers: port });
    emu.addPod({ namespace: ns, name: 'not-ready', labels: { app: 'orders' }, podIP: '10.0.0.3', ready: false, nodeName: 'n2', containers: port });
    emu.addPod({
      namespace: ns,
      name: 'crashloop',
      labels: { app: 'orders' },
      podIP: '10.0.0.4',
      ready: false,
      containers: [...port, { name: 'sidecar' }],
      containerStatuses: [
        { name: 'app', state: { waiting: { reason: 'CrashLoopBackOff' } } },
        { name: 'sidecar', state: { running: {} } },
      ],
    });
    emu.addPod({
      namespace: ns,
      name: 'sidecar-waiting',
      labels: { app: 'orders' },
      podIP: '10.0.0.2',
      containers: [...port, { name: 'sidecar' }],
      containerStatuses: [{ name: 'sidecar', state: { waiting: { reason: 'ImagePullBackOff' } } }],
    });
    emu.addPod({ namespace: ns, name: 'ipv6', labels: { app: 'orders' }, podIP: 'fd00:0:0::0a', containers: port });
    emu.addPod({
      namespace: ns,
      name: 'no-port',
      labels: { app: 'orders' },
      podIP: '10.0.0.9',
      containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 80 }] }],
    });
    emu.addPod({ namespace: ns, name: 'other-app', labels: { app: 'billing' }, podIP: '10.0.0.1', containers: port });
  });

  it('Running, not being deleted, with a podIP; host = pod IP, meta = pod, namespace, node; canonical order', async () => {
    const points = await contactPoints('shop', 'app=orders');
    expect(points).toEqual([
      { host: '10.0.0.2', meta: { pod: 'sidecar-waiting', namespace: 'shop' } },
      { host: '10.0.0.3', meta: { pod: 'not-ready', namespace: 'shop', node: 'n2' } },
      { host: '10.0.0.4', meta: { pod: 'crashloop', namespace: 'shop' } },
      { host: '10.0.0.5', meta: { pod: 'running', namespace: 'shop', node: 'n1' } },
      { host: '10.0.0.9', meta: { pod: 'no-port', namespace: 'shop' } },
      { host: 'fd00::a', meta: { pod: 'ipv6', namespace: 'shop' } },
    ]);
  });

  it('containerName skips a pod whose named container is waiting (a crash loop), not one whose other container waits', async () => {
    const hosts = (await contactPoints('shop', 'app=orders', { containerName: 'app' })).map((p) => p.host);
    expect(hosts).not.toContain('10.0.0.4');
    expect(hosts).toContain('10.0.0.2');
    const sidecar = (await contactPoints('shop', 'app=orders', { containerName: 'sidecar' })).map((p) => p.host);
    expect(sidecar).toContain('10.0.0.4');
    expect(sidecar).not.toContain('10.0.0.2');
  });

  it('containerName without a status for it: the pod counts (decision, see pods.ts)', () => {
    const pod: Pod = { metadata: { name: 'p', namespace: 'x' }, status: { phase: 'Running', podIP: '10.9.9.9', containerStatuses: [] } };
    expect(podsToContactPoints([pod], { containerName: 'app' }).map((p) => p.host)).toEqual(['10.9.9.9']);
  });

  it('readyOnly keeps only pods whose Ready condition is True', async () => {
    const hosts = (await contactPoints('shop', 'app=orders', { readyOnly: true })).map((p) => p.host);
    expect(hosts).toEqual(['10.0.0.2', '10.0.0.5', '10.0.0.9', 'fd00::a']);
  });

  it('portName picks the container port by name; a pod without it is skipped', async () => {
    const points = await contactPoints('shop', 'app=orders', { portName: 'management' });
    expect(points.map((p) => `${p.meta?.pod}:${p.port}`)).toEqual(['sidecar-waiting:7626', 'not-ready:7626', 'crashloop:7626', 'running:7626', 'ipv6:7626']);
    const http = await contactPoints('shop', 'app=orders', { portName: 'http' });
    expect(http).toEqual([{ host: '10.0.0.9', port: 80, meta: { pod: 'no-port', namespace: 'shop' } }]);
  });

  it('the first port of that name in spec order, across containers', () => {
    const pod: Pod = {
      metadata: { name: 'p' },
      spec: {
        containers: [
          { name: 'a', ports: [{ name: 'x', containerPort: 1 }] },
          {
            name: 'b',
            ports: [
              { name: 'm', containerPort: 2 },
              { name: 'm', containerPort: 3 },
            ],
          },
        ],
      },
      status: { phase: 'Running', podIP: '10.0.0.1' },
    };
    expect(podsToContactPoints([pod], { portName: 'm' })).toEqual([{ host: '10.0.0.1', port: 2, meta: { pod: 'p' } }]);
  });

  it('a podIP that is not an IP is a ProtocolError naming the field and the pod, never a contact point', async () => {
    emu.addPod({ namespace: 'shop', name: 'broken', labels: { app: 'broken' }, podIP: '10.0.0.10' });
    emu.updatePod('shop', 'broken', (p) => {
      p.status.podIP = 'pod.example';
    });
    const err = await listPods(client, { namespace: 'shop', labelSelector: 'app=broken' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/items\[0\]\.status\.podIP \(pod "broken"\): not an IP address: "pod\.example"/);
  });

  it('a containerPort out of range is a ProtocolError', async () => {
    emu.addPod({
      namespace: 'shop',
      name: 'badport',
      labels: { app: 'badport' },
      podIP: '10.0.0.11',
      containers: [{ name: 'c', ports: [{ name: 'm', containerPort: 1 }] }],
    });
    emu.updatePod('shop', 'badport', (p) => {
      p.spec.containers[0].ports[0].containerPort = 70000;
    });
    const err = await listPods(client, { namespace: 'shop', labelSelector: 'app=badport' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain('items[0].spec.containers[0].ports[0].containerPort');
  });

  it('a selector the API server rejects is a ConfigError naming discovery.labelSelector', async () => {
    const err = await listPods(client, { namespace: 'shop', labelSelector: 'app in orders' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^discovery\.labelSelector: the API server rejected "app in orders": /);
  });

  it('unknown fields are ignored; a selector with set-based terms goes to the server as given', async () => {
    const points = await contactPoints('shop', 'app in (orders, billing),app!=billing');
    expect(points).toHaveLength(6);
    expect(emu.requests.at(-1)!.query).toMatchObject({ labelSelector: 'app in (orders, billing),app!=billing', limit: '500' });
  });
});

describe('paging', () => {
  beforeAll(() => {
    for (let i = 0; i < 1234; i++) emu.addPod({ ...runningPod(i), namespace: 'big' });
    for (let i = 0; i < 20; i++) emu.addPod({ ...runningPod(i), name: `other-${i}`, labels: { app: 'other' }, namespace: 'big' });
  });

  it('follows limit/continue over more than 1,000 pods: complete, 3 requests of 500', async () => {
    const listing = await listPods(client, { namespace: 'big', labelSelector: 'app=web' });
    expect(listing.pods).toHaveLength(1234);
    expect(new Set(listing.pods.map((p) => p.metadata.name)).size).toBe(1234);
    expect(listing.requests).toBe(3);
    expect(emu.requests).toHaveLength(3);
    expect(emu.requests.map((r) => r.query.limit)).toEqual(['500', '500', '500']);
    expect(emu.requests[0]!.query.continue).toBeUndefined();
    expect(emu.requests[1]!.query.continue).toBeTruthy();
    const points = podsToContactPoints(listing.pods, { portName: 'management' });
    expect(points).toHaveLength(1234);
    expect(points[0]).toEqual({ host: '10.1.0.1', port: 7626, meta: { pod: 'web-0', namespace: 'big', node: 'node-0' } });
    expect(listing.resourceVersion).toMatch(/^\d+$/);
  });

  it('a page size of its own', async () => {
    const listing = await listPods(client, { namespace: 'big', labelSelector: 'app=web', pageSize: 100 });
    expect(listing.pods).toHaveLength(1234);
    expect(emu.requests).toHaveLength(13);
  });

  it('an expired continue token (410) restarts the list from scratch once', async () => {
    let responses = 0;
    const wrapped = Object.create(client) as KubernetesClient;
    wrapped.request = async (call) => {
      const res = await client.request(call);
      if (responses++ === 0) {
        emu.faults.expireContinueTokens();
        // as after a compaction in a real cluster, the store has moved on (new snapshot, new tokens)
        emu.addPod({ ...runningPod(0), name: 'late', labels: { app: 'late' }, namespace: 'big' });
      }
      return res;
    };
    const listing = await listPods(wrapped, { namespace: 'big', labelSelector: 'app=web' });
    expect(listing.pods).toHaveLength(1234);
    expect(new Set(listing.pods.map((p) => p.metadata.name)).size).toBe(1234);
    expect(emu.requests.map((r) => [r.status, r.query.continue === undefined ? 'first' : 'next'])).toEqual([
      [200, 'first'],
      [410, 'next'],
      [200, 'first'],
      [200, 'next'],
      [200, 'next'],
    ]);
  });

  it('a second 410 is thrown (no endless restarts)', async () => {
    const wrapped = Object.create(client) as KubernetesClient;
    wrapped.request = async (call) => {
      const res = await client.request(call);
      emu.faults.expireContinueTokens();
      return res;
    };
    const err = await listPods(wrapped, { namespace: 'big', labelSelector: 'app=web' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubernetesStatusError);
    expect(err).toMatchObject({ status: 410, reason: 'Expired' });
    expect(emu.requests).toHaveLength(4);
  });

  it('one timeout covers every page', async () => {
    emu.faults.latencyMs = 150;
    const t0 = performance.now();
    const err = await listPods(client, { namespace: 'big', labelSelector: 'app=web', pageSize: 100, timeoutMs: 400 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('TimeoutError');
    expect(performance.now() - t0).toBeLessThan(800);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, CoordinationV1Api, CoreV1Api, KubeConfig, Watch, type V1Lease } from '@kubernetes/client-node';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';

/*
 * The emulator checked against the official JavaScript client, @kubernetes/client-node 1.4 (a dev
 * dependency for this test only — clusterseed itself uses its own small client, see
 * providers/kubernetes-api/client.ts). TLS verifies against the emulator's test CA from the kubeconfig.
 */

let emu: KubernetesEmulator;
let kc: KubeConfig;
let core: CoreV1Api;
let coordination: CoordinationV1Api;

async function configFor(token?: string): Promise<KubeConfig> {
  const c = new KubeConfig();
  c.loadFromFile(await emu.kubeconfig(token === undefined ? {} : { token }));
  return c;
}

async function apiError(p: Promise<unknown>): Promise<ApiException<unknown> & { status: any }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<unknown>;
    const status = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    return Object.assign(e, { status });
  }
  throw new Error('expected an ApiException');
}

beforeAll(async () => {
  emu = await startKubernetesEmulator({ bookmarkIntervalMs: 100 });
  for (let i = 0; i < 12; i += 1) emu.addPod({ name: `node-${String(i).padStart(2, '0')}`, labels: { app: 'svc', idx: String(i) }, podIP: `10.0.0.${i}` });
  emu.addPod({ name: 'other', labels: { app: 'unrelated' } });
  kc = await configFor();
  core = kc.makeApiClient(CoreV1Api);
  coordination = kc.makeApiClient(CoordinationV1Api);
});

afterAll(async () => {
  await emu?.close();
});

describe('@kubernetes/client-node 1.4 against the emulator', () => {
  it('lists pods with a label selector, paging with limit/continue and remainingItemCount', async () => {
    emu.resetRequests();
    const seen: string[] = [];
    let token: string | undefined;
    const remaining: (number | undefined)[] = [];
    do {
      const page = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=svc', limit: 5, _continue: token });
      seen.push(...page.items.map((p) => p.metadata!.name!));
      remaining.push(page.metadata?.remainingItemCount);
      token = page.metadata?._continue;
    } while (token);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `node-${String(i).padStart(2, '0')}`));
    expect(remaining).toEqual([undefined, undefined, undefined]); // a selector makes the count unknown, as on a real server
    const pages = emu.requests.filter((r) => r.path === '/api/v1/namespaces/default/pods');
    expect(pages.map((r) => r.query.limit)).toEqual(['5', '5', '5']);
    expect(pages.filter((r) => r.query.continue).length).toBe(2);
    // without a selector the server counts what is left
    const first = await core.listNamespacedPod({ namespace: 'default', limit: 5 });
    expect(first.metadata?.remainingItemCount).toBe(8);
    expect(first.items[0]!.status!.podIP).toBe('10.0.0.0');
    expect(first.items[0]!.metadata!.creationTimestamp).toBeInstanceOf(Date);
  });

  it("serves a paged list from the first page's snapshot; an expired continue token is 410 Expired with a fresh token", async () => {
    const first = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in (svc)', limit: 4 });
    emu.addPod({ name: 'node-99', labels: { app: 'svc' } });
    emu.deletePod('default', 'node-11');
    const second = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in (svc)', limit: 100, _continue: first.metadata!._continue });
    expect(second.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
    expect(second.items.map((p) => p.metadata!.name)).toContain('node-11');
    expect(second.items.map((p) => p.metadata!.name)).not.toContain('node-99');

    const again = await core.listNamespacedPod({ namespace: 'default', limit: 3 });
    emu.faults.expireContinueTokens();
    const e = await apiError(core.listNamespacedPod({ namespace: 'default', limit: 3, _continue: again.metadata!._continue }));
    expect(e.code).toBe(410);
    expect(e.status).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
    expect(e.status.message).toMatch(/^The provided continue parameter is too old to display a consistent list result\./);
    const resumed = await core.listNamespacedPod({ namespace: 'default', limit: 100, _continue: e.status.metadata.continue });
    expect(resumed.items.map((p) => p.metadata!.name)).toContain('node-99'); // inconsistent: the latest state
    emu.deletePod('default', 'node-99');
    emu.addPod({ name: 'node-11', labels: { app: 'svc', idx: '11' }, podIP: '10.0.0.11' });
  });

  it('reads a pod by name; a missing one and a bad field selector are ApiExceptions with Status bodies', async () => {
    const pod = await core.readNamespacedPod({ namespace: 'default', name: 'node-03' });
    expect(pod.status!.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
    const missing = await apiError(core.readNamespacedPod({ namespace: 'default', name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.status).toMatchObject({ reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' } });
    const bad = await apiError(core.listNamespacedPod({ namespace: 'default', fieldSelector: 'status.hostIP=1.2.3.4' }));
    expect(bad.code).toBe(400);
    expect(bad.status).toMatchObject({ reason: 'BadRequest', message: 'field label not supported: status.hostIP' });
    const ok = await core.listNamespacedPod({ namespace: 'default', fieldSelector: 'metadata.name=node-05,status.phase=Running' });
    expect(ok.items.map((p) => p.metadata!.name)).toEqual(['node-05']);
  });

  it('creates, reads and replaces a Lease; a stale resourceVersion is 409 Conflict, a second create 409 AlreadyExists', async () => {
    const now = new Date('2026-12-02T01:02:03.123Z');
    const body: V1Lease = {
      metadata: { name: 'clusterseed-svc-lock', annotations: { 'clusterseed.io/record': '{}' } },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: now as any, renewTime: now as any, leaseTransitions: 0 },
    };
    const created = await coordination.createNamespacedLease({ namespace: 'default', body });
    expect(created.metadata!.resourceVersion).toMatch(/^\d+$/);
    expect(emu.lease('default', 'clusterseed-svc-lock')!.spec.renewTime).toBe('2026-12-02T01:02:03.123000Z');
    const read = await coordination.readNamespacedLease({ namespace: 'default', name: 'clusterseed-svc-lock' });
    expect(new Date(read.spec!.renewTime as any).getTime()).toBe(now.getTime());
    expect(read.metadata!.annotations).toEqual({ 'clusterseed.io/record': '{}' });

    const dup = await apiError(coordination.createNamespacedLease({ namespace: 'default', body }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({
      reason: 'AlreadyExists',
      message: 'leases.coordination.k8s.io "clusterseed-svc-lock" already exists',
      details: { group: 'coordination.k8s.io', kind: 'leases' },
    });

    const stale = structuredClone(read);
    read.spec!.holderIdentity = 'b';
    read.spec!.leaseTransitions = 1;
    const replaced = await coordination.replaceNamespacedLease({ namespace: 'default', name: 'clusterseed-svc-lock', body: read });
    expect(replaced.spec!.holderIdentity).toBe('b');
    expect(Number(replaced.metadata!.resourceVersion)).toBeGreaterThan(Number(read.metadata!.resourceVersion));
    stale.spec!.holderIdentity = 'c';
    const conflict = await apiError(coordination.replaceNamespacedLease({ namespace: 'default', name: 'clusterseed-svc-lock', body: stale }));
    expect(conflict.code).toBe(409);
    expect(conflict.status).toMatchObject({
      reason: 'Conflict',
      message:
        'Operation cannot be fulfilled on leases.coordination.k8s.io "clusterseed-svc-lock": the object has been modified; ' +
        'please apply your changes to the latest version and try again',
    });
    expect(emu.lease('default', 'clusterseed-svc-lock')!.spec.holderIdentity).toBe('b');
    const leases = await coordination.listNamespacedLease({ namespace: 'default' });
    expect(leases.items.map((l) => l.metadata!.name)).toEqual(['clusterseed-svc-lock']);
    await coordination.deleteNamespacedLease({ namespace: 'default', name: 'clusterseed-svc-lock' });
    const gone = await apiError(coordination.readNamespacedLease({ namespace: 'default', name: 'clusterseed-svc-lock' }));
    expect(gone.code).toBe(404);
  });

  it('401 and 403 are ApiExceptions with the codes and Status bodies; 429 carries Retry-After', async () => {
    const unauth = await apiError((await configFor('wrong')).makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' }));
    expect(unauth.code).toBe(401);
    // client-node's generated code drops the body of a 401 (the spec declares none): only the code and message reach us
    expect(unauth.message).toContain('Unauthorized');
    expect(emu.requests.at(-1)).toMatchObject({ token: 'invalid', status: 401 });
    emu.deny({ verb: 'update', resource: 'leases' });
    try {
      const forbidden = await apiError(
        coordination.replaceNamespacedLease({ namespace: 'default', name: 'x', body: { metadata: { name: 'x', resourceVersion: '1' } } }),
      );
      expect(forbidden.code).toBe(403);
      expect(forbidden.status.message).toBe(
        'leases.coordination.k8s.io "x" is forbidden: User "system:serviceaccount:default:default" ' +
          'cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
      );
    } finally {
      emu.allowAll();
    }
    emu.faults.throttle(1, 3);
    const throttled = await apiError(core.listNamespacedPod({ namespace: 'default' }));
    expect(throttled.code).toBe(429);
    expect(throttled.headers['retry-after']).toBe('3');
    expect(throttled.status).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 3 } });
    expect((await core.listNamespacedPod({ namespace: 'default' })).items.length).toBe(13);
  });

  it('Watch receives ADDED (existing), ADDED, MODIFIED, DELETED and BOOKMARK; after compact() a re-watch gets a 410 ERROR', async () => {
    const events: { type: string; name?: string; rv: string; obj: any }[] = [];
    let done: ((err: unknown) => void) | undefined;
    const ended = new Promise<unknown>((resolve) => (done = resolve));
    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 5000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events.map((e) => [e.type, e.name]))}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const watch = new Watch(kc);
    const controller = await watch.watch(
      '/api/v1/namespaces/default/pods',
      { labelSelector: 'app=svc,idx in (1,2,50)', allowWatchBookmarks: true },
      (type, obj) => events.push({ type, name: obj?.metadata?.name, rv: obj?.metadata?.resourceVersion, obj }),
      (err) => done!(err),
    );
    try {
      await until(() => events.filter((e) => e.type === 'ADDED').length === 2, 'the initial ADDED events');
      expect(events.slice(0, 2).map((e) => [e.type, e.name])).toEqual([
        ['ADDED', 'node-01'],
        ['ADDED', 'node-02'],
      ]);
      emu.addPod({ name: 'late', labels: { app: 'svc', idx: '50' } });
      emu.updatePod('default', 'late', (p) => (p.status.podIP = '10.9.9.9'));
      emu.updatePod('default', 'node-02', (p) => (p.metadata.labels.idx = '77')); // leaves the selector → DELETED
      emu.deletePod('default', 'late');
      emu.addPod({ name: 'ignored', labels: { app: 'svc', idx: '3' } });
      await until(() => events.filter((e) => e.type === 'DELETED').length === 2, 'the DELETED events');
      await until(() => events.some((e) => e.type === 'BOOKMARK'), 'a BOOKMARK');
      const changes = events
        .filter((e) => e.type !== 'BOOKMARK')
        .slice(2)
        .map((e) => [e.type, e.name]);
      expect(changes).toEqual([
        ['ADDED', 'late'],
        ['MODIFIED', 'late'],
        ['DELETED', 'node-02'],
        ['DELETED', 'late'],
      ]);
      expect(events.find((e) => e.type === 'MODIFIED')!.obj.status.podIP).toBe('10.9.9.9');
      const bookmark = events.find((e) => e.type === 'BOOKMARK')!;
      expect(Number(bookmark.rv)).toBeGreaterThanOrEqual(Number(events.find((e) => e.type === 'DELETED' && e.name === 'late')!.rv));
      const lastRv = events.filter((e) => e.type !== 'BOOKMARK').at(-1)!.rv;

      emu.faults.compact(); // ends the open watch; its RV is now too old
      expect(await ended).toBeNull();
      const errors: any[] = [];
      const errorEnded = new Promise<unknown>((resolve) => {
        void watch.watch(
          '/api/v1/namespaces/default/pods',
          { resourceVersion: lastRv, labelSelector: 'app=svc' },
          (type, obj) => errors.push({ type, obj }),
          resolve,
        );
      });
      await errorEnded;
      expect(errors).toHaveLength(1);
      expect(errors[0].type).toBe('ERROR');
      expect(errors[0].obj).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
      expect(errors[0].obj.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
      const relist = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=svc' });
      expect(Number(relist.metadata!.resourceVersion)).toBeGreaterThan(Number(lastRv));
    } finally {
      controller.abort();
      emu.updatePod('default', 'node-02', (p) => (p.metadata.labels.idx = '2'));
      emu.deletePod('default', 'ignored');
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseNames } from '../../providers/kubernetes-api/lease-names.js';
import type { KubernetesLeaseLock } from '../../providers/kubernetes-api/lease-lock.js';
import { ProtocolError } from '../../src/errors.js';
import type { FirstSeed, HeldLock } from '../../src/lock/seed-lock.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { leasePath, makeLock, point, rawApi, skewableClock, tamper } from './lease-helpers.js';

/*
 * KubernetesLeaseLock against the emulator over real HTTPS. Leases of 2 s; "time passes" on a
 * node's monotonic clock with skewableClock().advance() where the test is about the observation
 * rule rather than about waiting.
 */

let emu: KubernetesEmulator;
let serviceNo = 0;
const freshService = () => `svc-${++serviceNo}`;
const MICROTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const fs = (i: number, cluster = `c${i}`, forming?: true): FirstSeed => ({ point: point(i), cluster, ...(forming ? { forming } : {}) });

beforeAll(async () => {
  emu = await startKubernetesEmulator();
});
afterAll(async () => {
  await emu?.close();
});

const locks: KubernetesLeaseLock[] = [];
function lockFor(...args: Parameters<typeof makeLock>): KubernetesLeaseLock {
  const l = makeLock(...args);
  locks.push(l);
  return l;
}
afterAll(async () => {
  await Promise.all(locks.map((l) => l.close()));
});

describe('acquiring', () => {
  it('a create race between locks: exactly one holds, and the Lease carries client-go fields', async () => {
    const service = freshService();
    const contenders = Array.from({ length: 6 }, () => lockFor(rawApi(emu), { leaseDurationSeconds: 15 }));
    const results = await Promise.all(contenders.map((l, i) => l.tryLock(point(i + 1), { service })));
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = contenders[results.findIndex(Boolean)]!;
    const lease = emu.lease('default', leaseNames(service).lock);
    expect(lease.spec.holderIdentity).toBe(winner.identity());
    expect(winner.identity()).toMatch(/^10\.0\.0\.\d:7626\/[0-9a-f]{12}$/);
    expect(lease.spec.leaseDurationSeconds).toBe(15);
    expect(lease.spec.leaseTransitions).toBe(0);
    expect(lease.spec.acquireTime).toMatch(MICROTIME);
    expect(lease.spec.renewTime).toMatch(MICROTIME);
  });

  it('a PUT with a stale resourceVersion is refused (409), so a second taker of a free lock loses', async () => {
    const service = freshService();
    const api = rawApi(emu);
    const a = lockFor(api),
      b = lockFor(rawApi(emu));
    const held = await a.tryLock(point(1), { service });
    await held!.release();
    const free = emu.lease('default', leaseNames(service).lock);
    expect(free.spec.holderIdentity).toBeUndefined();
    // Both see it free; b writes first, a's PUT then carries the version both read.
    await b.readRecord({ service });
    const bHeld = await b.tryLock(point(2), { service });
    expect(bHeld).toBeDefined();
    const stale = await api.request({
      method: 'PUT',
      path: leasePath(leaseNames(service).lock),
      body: free,
      accept: [409],
      rbac: { verb: 'update', resource: 'leases', apiGroup: 'coordination.k8s.io' },
    });
    expect(stale.status).toBe(409);
    expect(await a.tryLock(point(1), { service })).toBeUndefined();
  });

  it('release clears the holder (idempotent); the next taker needs no expiry and counts a transition', async () => {
    const service = freshService();
    const a = lockFor(rawApi(emu), { leaseDurationSeconds: 30 }),
      b = lockFor(rawApi(emu), { leaseDurationSeconds: 30 });
    const held = (await a.tryLock(point(1), { service }))!;
    expect(await b.tryLock(point(2), { service })).toBeUndefined();
    await held.release();
    await held.release();
    expect(emu.lease('default', leaseNames(service).lock).spec.holderIdentity).toBeUndefined();
    const bHeld = await b.tryLock(point(2), { service });
    expect(bHeld).toBeDefined();
    expect(emu.lease('default', leaseNames(service).lock).spec).toMatchObject({ holderIdentity: b.identity(), leaseTransitions: 1 });
    // a's old hold is gone: releasing it again must not clear b's.
    await held.release();
    expect(emu.lease('default', leaseNames(service).lock).spec.holderIdentity).toBe(b.identity());
    await bHeld!.release();
  });

  it('a lock the process already holds (an answer lost, a generation not released) is taken again without a transition', async () => {
    const service = freshService();
    const a = lockFor(rawApi(emu));
    const first = (await a.tryLock(point(1), { service }))!;
    const second = (await a.tryLock(point(1), { service }))!;
    expect(emu.lease('default', leaseNames(service).lock).spec.leaseTransitions).toBe(0);
    // Only the newest generation writes.
    expect(await first.writeFirstSeed(fs(1), undefined, { service })).toBe(false);
    expect(await second.writeFirstSeed(fs(1), undefined, { service })).toBe(true);
    await first.release(); // an old generation's release is a no-op
    expect(emu.lease('default', leaseNames(service).lock).spec.holderIdentity).toBe(a.identity());
    await second.release();
  });
});

describe('expiry, judged on the observer’s monotonic clock', () => {
  it('a renewing holder is never taken over, however far the observer’s clock runs', async () => {
    const service = freshService();
    const holder = lockFor(rawApi(emu), { renewIntervalMs: 200 });
    const clock = skewableClock();
    const other = lockFor(rawApi(emu), {}, { clock });
    const held = await holder.tryLock(point(1), { service });
    expect(held).toBeDefined();
    for (let i = 0; i < 5; i++) {
      expect(await other.tryLock(point(2), { service })).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300)); // at least one renewal lands
      clock.advance(10_000); // far past leaseDuration — but the record changed meanwhile
    }
    // Wall clocks are never compared: a renewTime far in the past (a skewed holder) changes nothing.
    await tamper(rawApi(emu), leaseNames(service).lock, (l) => void (l.spec.renewTime = '2001-01-01T00:00:00.000000Z'));
    expect(await other.tryLock(point(2), { service })).toBeUndefined();
    await held!.release();
  });

  it('a holder that stopped renewing is taken over only after leaseDuration of unchanged observation; its fenced write then fails', async () => {
    const service = freshService();
    const frozen = lockFor(rawApi(emu), { renewIntervalMs: 3_600_000 }); // its renewals never come
    const clock = skewableClock();
    const taker = lockFor(rawApi(emu), {}, { clock });
    const held = (await frozen.tryLock(point(1), { service }))!;
    expect(await taker.tryLock(point(2), { service })).toBeUndefined(); // first sight: the clock starts now
    clock.advance(1900);
    expect(await taker.tryLock(point(2), { service })).toBeUndefined(); // 1.9 s < 2 s
    clock.advance(100);
    const taken = await taker.tryLock(point(2), { service });
    expect(taken).toBeDefined();
    expect(emu.lease('default', leaseNames(service).lock).spec).toMatchObject({ holderIdentity: taker.identity(), leaseTransitions: 1 });
    // The former holder resumes with stale beliefs: nothing it does lands.
    expect(await held.writeFirstSeed(fs(1), undefined, { service })).toBe(false);
    await expect(frozen.confirmLease({ service })).resolves.toBeUndefined(); // not holding: a reachability GET
    expect(frozen.holding(service)).toBe(false);
    await held.release();
    expect(emu.lease('default', leaseNames(service).lock).spec.holderIdentity).toBe(taker.identity());
    expect(emu.lease('default', leaseNames(service).lock).metadata.annotations['clusterseed.io/first-seed']).toBeUndefined();
    expect(await taken!.writeFirstSeed(fs(2), undefined, { service })).toBe(true);
    await taken!.release();
  });

  it('expiry in real time: a 2 s lease whose holder stops is free after 2 s of observation, not before', async () => {
    const service = freshService();
    const frozen = lockFor(rawApi(emu), { renewIntervalMs: 3_600_000 });
    const taker = lockFor(rawApi(emu));
    await frozen.tryLock(point(1), { service });
    const started = performance.now();
    expect(await taker.tryLock(point(2), { service })).toBeUndefined();
    let taken: HeldLock | undefined;
    while (!(taken = await taker.tryLock(point(2), { service }))) await new Promise((r) => setTimeout(r, 100));
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1990);
    expect(waited).toBeLessThan(3500);
    await taken.release();
  });

  it('confirmLease while holding is a renewal PUT; after a takeover it rejects', async () => {
    const service = freshService();
    const frozen = lockFor(rawApi(emu), { renewIntervalMs: 3_600_000 });
    const clock = skewableClock();
    const taker = lockFor(rawApi(emu), {}, { clock });
    await frozen.tryLock(point(1), { service });
    const before = emu.lease('default', leaseNames(service).lock).metadata.resourceVersion;
    await frozen.confirmLease({ service });
    expect(emu.lease('default', leaseNames(service).lock).metadata.resourceVersion).not.toBe(before);
    expect(await taker.tryLock(point(2), { service })).toBeUndefined();
    clock.advance(2000);
    expect(await taker.tryLock(point(2), { service })).toBeDefined();
    await expect(frozen.confirmLease({ service })).rejects.toThrow(/no longer held/);
  });
});

describe('the fenced first-seed write', () => {
  it('succeeds only when first-seed is what was read', async () => {
    const service = freshService();
    const a = lockFor(rawApi(emu));
    const held = (await a.tryLock(point(1), { service }))!;
    expect(await held.writeFirstSeed(fs(1, 'x', true), undefined, { service })).toBe(true);
    expect(await held.writeFirstSeed(fs(2), undefined, { service })).toBe(false);
    expect(await held.writeFirstSeed(fs(1, 'x'), fs(1, 'y', true), { service })).toBe(false); // other formation
    expect(await held.writeFirstSeed(fs(1, 'x'), fs(1, 'x'), { service })).toBe(false); // forming mark differs
    expect(await held.writeFirstSeed(fs(1, 'x'), fs(1, 'x', true), { service })).toBe(true);
    expect((await a.readRecord({ service })).firstSeed).toEqual(fs(1, 'x'));
    expect(await held.writeFirstSeed(undefined, fs(1, 'x'), { service })).toBe(true);
    expect((await a.readRecord({ service })).firstSeed).toBeUndefined();
    await held.release();
  });

  it('someone else changing first-seed behind the holder’s back (holder unchanged) fails the write', async () => {
    const service = freshService();
    const a = lockFor(rawApi(emu));
    const held = (await a.tryLock(point(1), { service }))!;
    await tamper(rawApi(emu), leaseNames(service).lock, (l) => {
      l.metadata.annotations['clusterseed.io/first-seed'] = JSON.stringify({ host: '10.0.0.9', port: 7626, cluster: 'theirs' });
    });
    expect(await held.writeFirstSeed(fs(1), undefined, { service })).toBe(false);
    expect((await a.readRecord({ service })).firstSeed).toEqual(fs(9, 'theirs'));
    // The holder is still us (our copy was only stale): a write expecting the current record works.
    expect(await held.writeFirstSeed(fs(1), fs(9, 'theirs'), { service })).toBe(true);
    await held.release();
  });

  it('renewals and fenced writes of one process are serialised: no 409 between them', async () => {
    const service = freshService();
    const api = rawApi(emu);
    const a = lockFor(api, { renewIntervalMs: 5 });
    const held = (await a.tryLock(point(1), { service }))!;
    let expected: FirstSeed | undefined;
    for (let i = 0; i < 20; i++) {
      const next = fs(1, `c${i}`);
      const [ok] = await Promise.all([held.writeFirstSeed(next, expected, { service }), a.confirmLease({ service })]);
      expect(ok).toBe(true);
      expected = next;
    }
    await held.release();
    const puts = emu.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(leaseNames(service).lock));
    expect(puts.length).toBeGreaterThan(40);
    expect(puts.filter((r) => r.status === 409)).toHaveLength(0);
  });

  it('a malformed first-seed annotation is a ProtocolError naming it, never a guess', async () => {
    const service = freshService();
    const a = lockFor(rawApi(emu));
    const held = (await a.tryLock(point(1), { service }))!;
    await tamper(rawApi(emu), leaseNames(service).lock, (l) => void (l.metadata.annotations['clusterseed.io/first-seed'] = 'not json'));
    const err = await a.readRecord({ service }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain('clusterseed.io/first-seed');
    expect(await held.writeFirstSeed(fs(1), undefined, { service })).toBe(false);
    await held.release();
  });
});

describe('members', () => {
  it('10 parallel addMember calls from 10 nodes all land (CAS with retries)', async () => {
    const service = freshService();
    const all = Array.from({ length: 10 }, (_, i) => point(i + 1));
    const nodes = all.map(() => lockFor(rawApi(emu), {}, { livePods: async () => all }));
    await Promise.all(nodes.map((n, i) => n.addMember(all[i]!, { service })));
    expect((await nodes[0]!.readRecord({ service })).members).toEqual(all);
    const conflicts = emu.requests.filter((r) => r.path.endsWith(leaseNames(service).members) && r.status === 409);
    expect(conflicts.length).toBeGreaterThan(0); // the race did happen
  });

  it('is idempotent: a second addMember writes nothing; removeMember twice is fine', async () => {
    const service = freshService();
    const self = point(1);
    const n = lockFor(rawApi(emu), {}, { livePods: async () => [self] });
    await n.addMember(self, { service });
    emu.resetRequests();
    await n.addMember(self, { service });
    expect(emu.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
    await n.removeMember(self, { service });
    await n.removeMember(self, { service });
    expect((await n.readRecord({ service })).members).toEqual([]);
  });

  it('a write drops entries that are not live pods (the pod is the registration), never its own', async () => {
    const service = freshService();
    let live = [point(1), point(2), point(3)];
    const n = () => lockFor(rawApi(emu), {}, { livePods: async () => live });
    await Promise.all([1, 2, 3].map((i) => n().addMember(point(i), { service })));
    live = [point(3), point(4)]; // 1 and 2 are gone; 5 is not listed yet (its pod just started)
    await n().addMember(point(4), { service });
    expect((await n().readRecord({ service })).members).toEqual([point(3), point(4)]);
    await n().addMember(point(5), { service });
    expect((await n().readRecord({ service })).members).toEqual([point(3), point(4), point(5)]);
  });

  it('a failing pod lookup means no pruning, not no member', async () => {
    const service = freshService();
    const ok = lockFor(rawApi(emu), {}, { livePods: async () => [point(1)] });
    await ok.addMember(point(1), { service });
    const failing = lockFor(
      rawApi(emu),
      {},
      {
        livePods: async () => {
          throw new Error('pods list failed');
        },
      },
    );
    await failing.addMember(point(2), { service });
    expect((await ok.readRecord({ service })).members).toEqual([point(1), point(2)]);
  });
});

describe('waitForChange (polling GETs)', () => {
  it('resolves soon after first-seed changes, not at maxWaitMs', async () => {
    const service = freshService();
    const holder = lockFor(rawApi(emu), { renewIntervalMs: 100 });
    const waiter = lockFor(rawApi(emu));
    const held = (await holder.tryLock(point(1), { service }))!;
    await waiter.readRecord({ service });
    const started = performance.now();
    const waiting = waiter.waitForChange({ service, maxWaitMs: 10_000 });
    setTimeout(() => void held.writeFirstSeed(fs(1), undefined, { service }), 300);
    await waiting;
    expect(performance.now() - started).toBeLessThan(1500);
    await held.release();
  });

  it('renewals are no change: resolves at maxWaitMs; a member change wakes it', async () => {
    const service = freshService();
    const holder = lockFor(rawApi(emu), { renewIntervalMs: 100 });
    const waiter = lockFor(rawApi(emu), {}, { livePods: async () => [point(7)] });
    const held = (await holder.tryLock(point(1), { service }))!;
    await waiter.readRecord({ service });
    let started = performance.now();
    await waiter.waitForChange({ service, maxWaitMs: 800 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(790);
    await waiter.readRecord({ service });
    started = performance.now();
    const waiting = waiter.waitForChange({ service, maxWaitMs: 10_000 });
    await waiter.addMember(point(7), { service });
    await waiting;
    expect(performance.now() - started).toBeLessThan(1500);
    await held.release();
  });

  it('wakes a waiter when the holder’s lease expires in its observation, so it can take over', async () => {
    const service = freshService();
    const frozen = lockFor(rawApi(emu), { renewIntervalMs: 3_600_000 });
    const waiter = lockFor(rawApi(emu));
    await frozen.tryLock(point(1), { service });
    expect(await waiter.tryLock(point(2), { service })).toBeUndefined();
    await waiter.readRecord({ service });
    const started = performance.now();
    await waiter.waitForChange({ service, maxWaitMs: 10_000 });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await waiter.tryLock(point(2), { service })).toBeDefined();
  });

  it('honours the signal', async () => {
    const service = freshService();
    const waiter = lockFor(rawApi(emu));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expect(waiter.waitForChange({ service, maxWaitMs: 10_000, signal: ac.signal })).rejects.toThrow();
  });
});

describe('through the provider’s KubernetesClient (providers/kubernetes-api/client.ts)', () => {
  it('locks, fences, records members, and names the RBAC rule when leases update is denied', async () => {
    const { createKubernetesClient } = await import('../../providers/kubernetes-api/client.js');
    const client = await createKubernetesClient({ apiServer: emu.url, caFile: emu.caFile, tokenFile: emu.tokenFile, namespace: 'default' }, { env: {} });
    try {
      const service = freshService();
      const a = lockFor(client, {}, { livePods: async () => [point(1)] }),
        b = lockFor(client);
      const held = (await a.tryLock(point(1), { service }))!;
      expect(await b.tryLock(point(2), { service })).toBeUndefined();
      expect(await held.writeFirstSeed(fs(1), undefined, { service })).toBe(true);
      await a.addMember(point(1), { service });
      expect(await b.readRecord({ service })).toEqual({ firstSeed: fs(1), members: [point(1)] });
      await held.release();
      emu.deny({ verb: 'update', resource: 'leases' });
      try {
        const err = await b.tryLock(point(2), { service }).catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('CLUSTERSEED_E_AUTH');
        expect(`${(err as Error).message} ${(err as { hint?: string }).hint}`).toMatch(/update/);
        expect(`${(err as Error).message} ${(err as { hint?: string }).hint}`).toMatch(/leases/);
      } finally {
        emu.allowAll();
      }
    } finally {
      client.close();
    }
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { systemClock, type Clock } from '../../src/clock.js';
import type { StrategyContext } from '../../src/bootstrap/strategy.js';
import { Config } from '../../src/config/schema.js';
import { runLockStrategy } from '../../src/lock/lock-strategy.js';
import { createDiscovery } from '../../src/registry.js';
import type { ContactPoint } from '../../src/types.js';
import type { ConsulProvider } from '../../providers/consul/index.js';
import { frozenClock, scaledClock } from '../emulators/consul/scaled-clock.js';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/server.js';
import { eventually, makeProvider, recordingLogger, SCALE } from './consul-helpers.js';
import { expectOneCluster, startLockHolder } from './helpers.js';

let emu: ConsulEmulator;
const providers: ConsulProvider[] = [];
const clock = scaledClock(SCALE);
const opts = { service: 'api' };
const point = (i: number): ContactPoint => ({ host: '127.0.0.1', port: 20_000 + i });

function provider(ctx: Partial<Parameters<typeof makeProvider>[2]> = {}): ConsulProvider {
  const p = makeProvider(emu, {}, { clock, ...ctx });
  providers.push(p);
  return p;
}

beforeEach(async () => {
  emu = await startConsulEmulator({ timeScale: SCALE });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  await emu.stop();
});

describe('consul SeedLock', () => {
  it('the lock is exclusive until released; first-seed is written only by the holder, fenced and compare-and-set', async () => {
    const a = provider().seedLock();
    const b = provider().seedLock();
    expect(await a.readRecord(opts)).toEqual({ members: [] });
    const held = await a.tryLock(point(1), opts);
    expect(held).toBeDefined();
    expect(await b.tryLock(point(2), opts)).toBeUndefined();
    const lockKey = emu.state.kv.get('clusterseed/api/lock')!;
    expect(JSON.parse(lockKey.Value!.toString())).toEqual({ host: '127.0.0.1', port: 20_001 });
    expect(emu.state.sessions.get(lockKey.Session!)).toMatchObject({ Behavior: 'delete', TTL: '10s', LockDelayMs: 1000 * SCALE });
    const fs1 = { point: point(1), cluster: 'c1' };
    expect(await held!.writeFirstSeed(fs1, undefined, opts)).toBe(true);
    expect(await held!.writeFirstSeed({ point: point(9), cluster: 'c9' }, undefined, opts)).toBe(false); // exists: never overwritten
    emu.inject('/v1/kv/clusterseed/api/lock', { kind: 'status', status: 503, body: 'overloaded' }, { method: 'PUT' });
    await held!.release(); // retried: a live session must not keep the lock
    await held!.release(); // idempotent
    expect(await held!.writeFirstSeed(undefined, fs1, opts)).toBe(false); // released: the fence refuses
    const heldB = await b.tryLock(point(2), opts);
    expect(heldB).toBeDefined();
    expect((await b.readRecord(opts)).firstSeed).toEqual(fs1);
    expect(await heldB!.writeFirstSeed(undefined, { point: point(3) }, opts)).toBe(false); // not the current one: stays
    expect((await b.readRecord(opts)).firstSeed).toEqual(fs1);
    expect(await heldB!.writeFirstSeed(undefined, fs1, opts)).toBe(true);
    expect((await b.readRecord(opts)).firstSeed).toBeUndefined();
    await heldB!.release();
  });

  it("members live with their node's session: a dead node's entry and held lock go away", async () => {
    const live = provider().seedLock();
    const dead = provider({ clock: frozenClock }).seedLock(); // never renews its session
    await live.addMember(point(1), opts);
    await dead.addMember(point(2), opts);
    expect(await dead.tryLock(point(2), opts)).toBeDefined();
    expect((await live.readRecord(opts)).members).toEqual([point(1), point(2)]);
    await eventually(async () => (await live.readRecord(opts)).members.length === 1); // 10 s × 2 × SCALE
    expect((await live.readRecord(opts)).members).toEqual([point(1)]);
    expect(emu.state.kv.has('clusterseed/api/lock')).toBe(false); // behavior delete
    await eventually(async () => (await live.tryLock(point(1), opts)) !== undefined); // after lock-delay
  });

  it('tryLock waits out the lock-delay a dead holder left instead of reporting the lock as taken', async () => {
    const dead = makeProvider(emu, { lockDelaySeconds: 10 }, { clock: frozenClock }).seedLock();
    const nextProvider = makeProvider(emu, { lockDelaySeconds: 10 }, { clock });
    providers.push(nextProvider);
    const next = nextProvider.seedLock();
    await dead.tryLock(point(1), opts);
    emu.state.invalidateSession(emu.state.kv.get('clusterseed/api/lock')!.Session!); // the holder's session ends
    const refusedAt = emu.requests.length;
    expect(await next.tryLock(point(2), opts)).toBeDefined(); // lock-delay: 10 s × SCALE
    expect(emu.requests.slice(refusedAt).filter((r) => r.query.startsWith('?acquire=')).length).toBe(2);
  });

  it('waitForChange wakes on a change under the prefix, and returns after maxWaitMs without one', async () => {
    const watcher = provider().seedLock();
    const writer = provider().seedLock();
    await watcher.readRecord(opts);
    let woke = false;
    const waiting = watcher.waitForChange({ ...opts, maxWaitMs: 60_000 }).then(() => {
      woke = true;
    });
    await eventually(() => emu.requests.some((r) => r.query.includes('index=')));
    await new Promise((r) => setTimeout(r, 100));
    expect(woke).toBe(false);
    await writer.addMember(point(5), opts);
    await waiting;
    expect(woke).toBe(true);
    const before = emu.count('/v1/kv/clusterseed/api/');
    await watcher.readRecord(opts);
    await watcher.waitForChange({ ...opts, maxWaitMs: 150 }); // no change: returns at maxWait
    expect(emu.count('/v1/kv/clusterseed/api/') - before).toBeLessThanOrEqual(3); // a blocking query, not polling
  });

  it('replaces a lost session; the member entry comes back only when added again (the strategy re-adds it after checking the record)', async () => {
    const logger = recordingLogger();
    const lock = provider({ logger }).seedLock();
    await lock.addMember(point(1), opts);
    const key = 'clusterseed/api/members/127.0.0.1:20001';
    const sid = emu.state.kv.get(key)!.Session!;
    emu.state.invalidateSession(sid); // e.g. the agent restarted
    await eventually(() => /session was invalidated/.test(logger.text()));
    expect(emu.state.kv.has(key)).toBe(false);
    await lock.addMember(point(1), opts); // after lock-delay, under the new session
    expect(emu.state.kv.get(key)?.Session).not.toBe(sid);
    await lock.confirmLease(opts);
  });

  it('ignores a malformed first-seed or member value instead of failing every read', async () => {
    emu.state.putKv('clusterseed/api/first-seed', Buffer.from('garbage'), {});
    const logger = recordingLogger();
    const lock = provider({ logger }).seedLock();
    expect((await lock.readRecord(opts)).firstSeed).toBeUndefined();
    expect(logger.text()).toMatch(/ignoring a first-seed value/);
    emu.inject('/v1/kv/clusterseed/api/', { kind: 'body', body: '[{"Key":5}]' });
    await expect(lock.readRecord(opts)).rejects.toThrow(/\[0\]\.Key/);
  });

  it('close() removes member entries and destroys the session', async () => {
    const p = provider();
    await p.seedLock().addMember(point(1), opts);
    await p.close();
    expect(emu.state.kv.size).toBe(0);
    expect(emu.state.sessions.size).toBe(0);
  });
});

describe('lock strategy on the Consul emulator', () => {
  async function runNode(self: ContactPoint, signal: AbortSignal, nodeClock: Clock = clock) {
    const discovery = { method: 'consul', host: '127.0.0.1', port: emu.port };
    const p = await createDiscovery(discovery as never, { clock: nodeClock });
    const config = Config.parse({ service: 'api', discovery, bootstrap: { strategy: 'lock' }, management: { port: 0 } });
    const joined: ContactPoint[][] = [];
    const context: StrategyContext = {
      config,
      provider: p,
      self,
      logger: recordingLogger(),
      clock: nodeClock,
      signal,
      startedAt: Date.now(),
      join: async (seeds) => {
        joined.push(seeds);
      },
      onConflict: () => {},
    };
    const outcome = await runLockStrategy(context);
    return {
      self,
      joined,
      outcome,
      close: async () => {
        await outcome.close();
        await p.close();
      },
    };
  }

  it('20 nodes at once form exactly one cluster and share its first seed; close removes them all', async () => {
    // Real TTLs and the system clock: no expiry is involved, and nothing depends on the machine's load.
    await emu.stop();
    emu = await startConsulEmulator();
    const signal = AbortSignal.timeout(60_000);
    const nodes = await Promise.all(Array.from({ length: 20 }, (_, i) => runNode(point(i), signal, systemClock)));
    try {
      expectOneCluster(nodes);
      for (const n of nodes) expect(n.joined).toEqual([n.outcome.result.seeds]);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
    expect(emu.state.services.size).toBe(0);
    // What stays: the record of the cluster that formed, and the released (session-less) lock key.
    expect([...emu.state.kv.keys()].sort()).toEqual(['clusterseed/api/first-seed', 'clusterseed/api/lock']);
    expect(emu.state.kv.get('clusterseed/api/lock')!.Session).toBeUndefined();
    expect(emu.state.sessions.size).toBe(0);
  });

  it('a lock holder that dies before forming lets the others form one cluster', async () => {
    const zombie = makeProvider(emu, {}, { clock: frozenClock }); // stops renewing: a kill -9 right after acquiring
    await zombie.register(point(0), { service: 'api' });
    expect(await zombie.seedLock().tryLock(point(0), opts)).toBeDefined();
    const signal = AbortSignal.timeout(60_000);
    const nodes = await Promise.all(Array.from({ length: 5 }, (_, i) => runNode(point(i + 1), signal)));
    try {
      expect(expectOneCluster(nodes)).not.toBe(formatHostPort(point(0)));
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it('kill -9 of the lock holder (a child process, real clock, real 10 s TTL) lets the others form one cluster', async () => {
    await emu.stop();
    // Consul invalidates between TTL and 2×TTL; the emulator's multiplier 1 keeps this test at ~11 s.
    emu = await startConsulEmulator({ sessionTtlMultiplier: 1 });
    const holder = await startLockHolder({ method: 'consul', host: '127.0.0.1', port: emu.port }, 'api', point(0));
    expect(emu.state.kv.get('clusterseed/api/lock')?.Session).toBeDefined();
    holder.kill('SIGKILL');
    const signal = AbortSignal.timeout(60_000);
    const nodes = await Promise.all(Array.from({ length: 5 }, (_, i) => runNode(point(i + 1), signal, systemClock)));
    try {
      expectOneCluster(nodes);
      for (const n of nodes) expect(n.outcome.result.seeds.map(formatHostPort)).not.toContain(formatHostPort(point(0)));
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  }, 60_000);
});

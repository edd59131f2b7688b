import { watch, type FSWatcher } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { bootstrap, type BootstrapNode } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import type { ContactPoint, RegistryProvider } from '../../src/types.js';
import { entryFileName } from '../../providers/file/entries.js';
import { scaledClock } from '../emulators/consul/scaled-clock.js';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/server.js';

/*
 * With the lock strategy, bootstrap() registers the node and runLockStrategy() registers the same
 * point again. On Consul and file a second registration of the same point is a no-op: one
 * `PUT /v1/agent/service/register` and one TTL-pass loop on Consul, one entry file and one refresh
 * timer on file. The registration is reference-counted: closing one holder's copy (the strategy's)
 * leaves the other's (bootstrap's) registered; the last close deregisters.
 */

const SELF: ContactPoint = { host: '127.0.0.1', port: 7626 };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const minGap = (times: number[]) => Math.min(...times.slice(1).map((t, i) => t - times[i]!));

async function consulEmulator(timeScale = 1): Promise<ConsulEmulator> {
  const emu = await startConsulEmulator({ timeScale });
  cleanups.push(() => emu.stop());
  return emu;
}

async function registry(discovery: Record<string, unknown>, clock: Clock = systemClock): Promise<RegistryProvider> {
  const p = (await createDiscovery(discovery as never, { clock, logger: silentLogger, env: {} })) as RegistryProvider;
  cleanups.push(() => p.close());
  return p;
}

/** The entry files of a nodes directory (a rewrite in progress shows a `.…tmp` file for a moment). */
const entries = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));

async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-registration-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Counts the renames that put a new version of `name` in `dir` (writeAtomic's tmp → file), with their times. */
function countWrites(dir: string, name: string): { times: number[]; stop(): void } {
  const times: number[] = [];
  const watcher: FSWatcher = watch(dir, (event, file) => {
    if (event === 'rename' && file === name) times.push(Date.now());
  });
  return { times, stop: () => watcher.close() };
}

async function lockBootstrap(service: string, discovery: Record<string, unknown>): Promise<BootstrapNode> {
  const node = await bootstrap({
    service,
    discovery: discovery as never,
    bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 30_000 },
    management: { host: '127.0.0.1', port: 0 },
    self: { host: '127.0.0.1' },
    join: async () => {},
  });
  cleanups.push(() => node.close());
  return node;
}

describe('a lock bootstrap registers once', () => {
  it('on Consul: one service/register PUT, TTL passes at the single-loop rate, one deregistration at close', async () => {
    // bootstrap() gives its provider the system clock: real 10 s TTLs, passes every 3.33 s.
    const emu = await consulEmulator();
    const node = await lockBootstrap('reg-consul', { method: 'consul', host: '127.0.0.1', port: emu.port });
    expect(node.result.formedNewCluster).toBe(true);
    expect(emu.count('/v1/agent/service/register', 'PUT')).toBe(1);
    const periodMs = 10_000 / 3;
    const windowMs = 7_500;
    const checkPath = `/v1/agent/check/pass/${encodeURIComponent(`service:clusterseed-reg-consul-127.0.0.1:${node.endpoint.port}`)}`;
    const passesSince = (t: number) => emu.requests.filter((r) => r.method === 'PUT' && r.path === checkPath && r.at >= t).map((r) => r.at);
    const start = Date.now();
    await sleep(windowMs);
    const passes = passesSince(start);
    // One loop: floor(7.5 / 3.33) = 2 passes, 3.33 s apart; two loops would make 4, some close together.
    expect(passes.length).toBeGreaterThanOrEqual(1);
    expect(passes.length).toBeLessThanOrEqual(Math.ceil(windowMs / periodMs));
    if (passes.length > 1) expect(minGap(passes)).toBeGreaterThan(periodMs * 0.8);
    expect(emu.count('/v1/agent/service/register', 'PUT')).toBe(1);
    await node.close();
    expect(emu.count('/v1/agent/service/deregister/', 'PUT')).toBe(1);
    expect([...emu.state.services.values()].filter((s) => s.Service === 'reg-consul')).toEqual([]);
  });

  it('on file: one entry file, rewritten at the single-timer rate, removed at close', async () => {
    const directory = await tmpDir();
    const ttlMs = 1_200;
    const node = await lockBootstrap('reg-file', { method: 'file', directory, ttlMs });
    expect(node.result.formedNewCluster).toBe(true);
    const nodes = path.join(directory, 'reg-file', 'nodes');
    const name = entryFileName(node.result.self);
    expect(await entries(nodes)).toEqual([name]);
    const writes = countWrites(nodes, name);
    const windowMs = 2_400;
    await sleep(windowMs);
    writes.stop();
    const periodMs = ttlMs / 3;
    // One timer: ~6 rewrites 400 ms apart; two would make ~12, in pairs.
    expect(writes.times.length).toBeGreaterThanOrEqual(3);
    expect(writes.times.length).toBeLessThanOrEqual(Math.ceil(windowMs / periodMs) + 1);
    // Watch events can arrive late in a stalled event loop: the gap check is loose, the count is the test.
    expect(minGap(writes.times)).toBeGreaterThan(periodMs * 0.25);
    expect(await entries(nodes)).toEqual([name]);
    await node.close();
    expect(await entries(nodes)).toEqual([]);
  });
});

interface Backend {
  p: RegistryProvider;
  writes(): number;
  deregistrations(): number;
  registered(): boolean | Promise<boolean>;
  passing(): boolean | Promise<boolean>;
  /** Starts counting writes (file: the entry directory exists once the first registration wrote). */
  countFrom?(): Promise<void>;
  settleMs: number;
}

describe.each<[string, () => Promise<Backend>]>([
  [
    'consul',
    async () => {
      const emu = await consulEmulator(0.1);
      const p = await registry({ method: 'consul', host: '127.0.0.1', port: emu.port }, scaledClock(0.1));
      return {
        p,
        writes: () => emu.count('/v1/agent/service/register', 'PUT'),
        deregistrations: () => emu.count('/v1/agent/service/deregister/', 'PUT'),
        registered: () => [...emu.state.services.values()].some((s) => s.Service === 'svc'),
        passing: () => [...emu.state.checks.values()].some((c) => c.ServiceName === 'svc' && c.Status === 'passing'),
        settleMs: 1_500, // > the scaled 1 s TTL: only a running loop keeps the check passing
      };
    },
  ],
  [
    'file',
    async () => {
      const directory = await tmpDir();
      const p = await registry({ method: 'file', directory, ttlMs: 1_000 });
      const nodes = path.join(directory, 'svc', 'nodes');
      let writes = 0;
      const files = () => entries(nodes);
      return {
        p,
        writes: () => writes,
        countFrom: async () => {
          const w = watch(nodes, (event, file) => {
            if (event === 'rename' && file === entryFileName(SELF)) writes += 1;
          });
          cleanups.push(async () => w.close());
        },
        deregistrations: () => 0,
        registered: async () => (await files()).includes(entryFileName(SELF)),
        passing: async () => (await p.resolve({ service: 'svc' })).length === 1,
        settleMs: 1_500, // > ttlMs: only a running refresh keeps the entry fresh
      };
    },
  ],
])('%s: a second registration of the same point', (name, make) => {
  it('costs no request and shares one refresh loop; the last close deregisters', async () => {
    const b = await make();
    const first = await b.p.register(SELF, { service: 'svc' });
    await b.countFrom?.();
    const writesAfterFirst = b.writes();
    const second = await b.p.register({ ...SELF }, { service: 'svc' });
    if (name === 'consul') expect(b.writes()).toBe(1);
    else expect(b.writes()).toBe(writesAfterFirst);
    expect(second.self).toEqual(SELF);
    // Closing one holder (the lock strategy's copy) keeps the other's registered and refreshed.
    await second.close();
    await second.close();
    await sleep(b.settleMs);
    expect(await b.registered()).toBe(true);
    expect(await b.passing()).toBe(true);
    expect(b.deregistrations()).toBe(0);
    await first.close();
    expect(await b.registered()).toBe(false);
    if (name === 'consul') expect(b.deregistrations()).toBe(1);
    // A new registration after the last close registers again.
    const again = await b.p.register(SELF, { service: 'svc' });
    expect(await b.registered()).toBe(true);
    await again.close();
    expect(await b.registered()).toBe(false);
  });

  it('two at the same moment make one registration; provider close() deregisters whatever is held', async () => {
    const b = await make();
    const [x, y] = await Promise.all([b.p.register(SELF, { service: 'svc' }), b.p.register(SELF, { service: 'svc' })]);
    if (name === 'consul') expect(b.writes()).toBe(1);
    const other = await b.p.register({ host: '127.0.0.2', port: 7626 }, { service: 'svc' });
    if (name === 'consul') expect(b.writes()).toBe(2);
    expect((await b.p.resolve({ service: 'svc' })).map((c) => c.host)).toEqual(['127.0.0.1', '127.0.0.2']);
    await b.p.close();
    expect(await b.registered()).toBe(false);
    if (name === 'consul') expect(b.deregistrations()).toBe(2);
    await Promise.all([x.close(), y.close(), other.close()]);
    if (name === 'consul') expect(b.deregistrations()).toBe(2);
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import type { ClusterConflict } from '../../src/bootstrap/conflict.js';
import type { StrategyContext, StrategyOutcome } from '../../src/bootstrap/strategy.js';
import { systemClock } from '../../src/clock.js';
import { Config } from '../../src/config/schema.js';
import { runLockStrategy } from '../../src/lock/lock-strategy.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import type { ContactPoint, DiscoveryProvider } from '../../src/types.js';
import { getTestServers, SERVERS_TIMEOUT_MS } from '../servers/index.js';

export function uniqueService(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A logger that keeps what it was told (tests assert on re-registration messages). */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; obj: unknown }[] } {
  const lines: { level: string; msg: string; obj: unknown }[] = [];
  const make = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, msg: typeof obj === 'string' ? obj : (msg ?? ''), obj });
  return { lines, debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

export type Discovery = { method: string } & Record<string, unknown>;

export interface LockNode {
  self: ContactPoint;
  provider: DiscoveryProvider;
  outcome: StrategyOutcome;
  joined: ContactPoint[][];
  /** Conflicts the record watch reported (DESIGN §5.5). */
  conflicts: ClusterConflict[];
  close(): Promise<void>;
}

/** Runs the lock strategy for one simulated node with its own provider instance (its own session/lease). */
export async function runLockNode(
  discovery: Discovery,
  service: string,
  self: ContactPoint,
  options: { signal?: AbortSignal; logger?: Logger; newClusterEnabled?: boolean } = {},
): Promise<LockNode> {
  const logger = options.logger ?? silentLogger;
  const provider = await createDiscovery(discovery as never, { logger });
  const config = Config.parse({
    service,
    discovery,
    bootstrap: { strategy: 'lock', newClusterEnabled: options.newClusterEnabled ?? true },
    management: { port: 0 },
  });
  const joined: ContactPoint[][] = [];
  const conflicts: ClusterConflict[] = [];
  const context: StrategyContext = {
    config,
    provider,
    self,
    join: async (seeds) => {
      joined.push(seeds);
    },
    logger,
    clock: systemClock,
    signal: options.signal ?? AbortSignal.timeout(90_000),
    startedAt: Date.now(),
    onConflict: (c) => conflicts.push(c),
  };
  try {
    const outcome = await runLockStrategy(context);
    outcome.watch?.();
    return {
      self,
      provider,
      outcome,
      joined,
      conflicts,
      close: async () => {
        await outcome.close();
        await provider.close();
      },
    };
  } catch (err) {
    await provider.close();
    throw err;
  }
}

export function node(i: number, base = 20_000): ContactPoint {
  return { host: '127.0.0.1', port: base + i };
}

/** Polls `check` until it returns true (no fixed sleeps in assertions). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface LockBackends {
  /** [name, discovery] rows for describe.each; call the discovery inside a test (servers start in beforeAll). */
  table: [string, () => Discovery][];
  servers(): { zookeeper: string; etcd: string };
  /** A temporary directory, removed after the file's tests. */
  tmp(): string;
}

/**
 * Registers beforeAll/afterAll that start the real ZooKeeper and etcd and make a temporary directory,
 * and returns the etcd/zookeeper/file discoveries the lock tests run on (`extra` adds per-backend
 * options such as short TTLs; `fileSubdir` puts the file registry below the temporary directory).
 */
export function useLockBackends(tmpPrefix: string, extra: { etcd?: object; zookeeper?: object; file?: object; fileSubdir?: string } = {}): LockBackends {
  let servers: { zookeeper: string; etcd: string } | undefined;
  let tmp: string | undefined;
  beforeAll(async () => {
    const { zookeeper, etcd } = await getTestServers();
    servers = { zookeeper, etcd };
    tmp = await mkdtemp(path.join(os.tmpdir(), tmpPrefix));
  }, SERVERS_TIMEOUT_MS);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });
  const started = () => {
    if (!servers || !tmp) throw new Error('the lock backends are set up in beforeAll');
    return { servers, tmp };
  };
  const fileDir = () => (extra.fileSubdir ? path.join(started().tmp, extra.fileSubdir) : started().tmp);
  return {
    table: [
      ['etcd', () => ({ method: 'etcd', endpoints: [started().servers.etcd], ...extra.etcd })],
      ['zookeeper', () => ({ method: 'zookeeper', connectionString: started().servers.zookeeper, ...extra.zookeeper })],
      ['file', () => ({ method: 'file', directory: fileDir(), ...extra.file })],
    ],
    servers: () => started().servers,
    tmp: () => started().tmp,
  };
}

/** Asserts that a fresh provider finds nothing registered for `service` (after a graceful close). */
export async function expectNothingRegistered(discovery: Discovery, service: string): Promise<void> {
  const reader = await createDiscovery(discovery as never);
  try {
    expect(await reader.resolve({ service })).toEqual([]);
  } finally {
    await reader.close();
  }
}

/** Asserts that exactly one node formed a cluster and every node's first seed is its founder; returns it. */
export function expectOneCluster(nodes: { self: ContactPoint; outcome: StrategyOutcome }[]): string {
  const formers = nodes.filter((n) => n.outcome.result.formedNewCluster);
  expect(formers).toHaveLength(1);
  const first = formatHostPort(formers[0]!.self);
  for (const n of nodes) expect(formatHostPort(n.outcome.result.seeds[0]!)).toBe(first);
  return first;
}

const lockHolderFixture = fileURLToPath(new URL('./fixtures/lock-holder.ts', import.meta.url));

/** Starts a child node that wins the lock and hangs in its join; resolves once it holds the lock. */
export function startLockHolder(discovery: object, service: string, self: ContactPoint): Promise<ChildProcess> {
  const args = ['--import', 'tsx', lockHolderFixture, JSON.stringify(discovery), service, self.host, String(self.port)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      if (out.includes('JOINING')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before taking the lock: ${stderr}`)));
  });
}

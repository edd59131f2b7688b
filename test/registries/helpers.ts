import { randomBytes } from 'node:crypto';
import type { StrategyContext, StrategyOutcome } from '../../src/bootstrap/strategy.js';
import { systemClock } from '../../src/clock.js';
import { Config } from '../../src/config/schema.js';
import { runLockStrategy } from '../../src/lock/lock-strategy.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { createDiscovery } from '../../src/registry.js';
import type { ContactPoint, DiscoveryProvider } from '../../src/types.js';

export function uniqueService(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A logger that keeps what it was told (tests assert on re-registration messages). */
export function recordingLogger(): Logger & { lines: { level: string; msg: string; obj: unknown }[] } {
  const lines: { level: string; msg: string; obj: unknown }[] = [];
  const make = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, msg: typeof obj === 'string' ? obj : msg ?? '', obj });
  return { lines, debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

export type Discovery = { method: string } & Record<string, unknown>;

export interface LockNode {
  self: ContactPoint;
  provider: DiscoveryProvider;
  outcome: StrategyOutcome;
  joined: ContactPoint[][];
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
  const context: StrategyContext = {
    config,
    provider,
    self,
    join: async (seeds) => { joined.push(seeds); },
    logger,
    clock: systemClock,
    signal: options.signal ?? AbortSignal.timeout(90_000),
    startedAt: Date.now(),
  };
  try {
    const outcome = await runLockStrategy(context);
    return {
      self, provider, outcome, joined,
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
    await new Promise((r) => setTimeout(r, 100));
  }
}

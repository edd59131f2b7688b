import { silentLogger, type Logger } from '../../src/logger.js';
import type { Clock } from '../../src/clock.js';
import type { ProviderContext } from '../../src/types.js';
import { ConsulOptions } from '../../providers/consul/options.js';
import { ConsulProvider } from '../../providers/consul/index.js';
import type { ConsulEmulator } from '../emulators/consul/server.js';

/**
 * Emulator and provider share this factor: 10 s TTLs last 1 s, refreshed every 333 ms — enough slack
 * for a loaded 2-core machine.
 */
export const SCALE = 0.1;

export interface LogLine {
  level: string;
  obj: unknown;
  msg: string | undefined;
}

export function recordingLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const make = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return {
    lines,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    text: () => lines.map((l) => `${l.level} ${JSON.stringify(l.obj)} ${l.msg ?? ''}`).join('\n'),
  };
}

export function makeProvider(
  emu: ConsulEmulator,
  options: Record<string, unknown> = {},
  context: { clock: Clock; logger?: Logger; env?: Record<string, string | undefined> },
): ConsulProvider {
  const parsed = ConsulOptions.parse({ method: 'consul', host: '127.0.0.1', port: emu.port, ...options });
  const ctx: ProviderContext = {
    logger: context.logger ?? silentLogger,
    clock: context.clock,
    env: context.env ?? {},
    createDiscovery: () => {
      throw new Error('not used');
    },
  };
  return new ConsulProvider(parsed, ctx);
}

/** Polls `cond` every 20 ms until it holds (generous timeout: a loaded 2-core machine). */
export { eventually } from './helpers.js';

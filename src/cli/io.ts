import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';

export interface CliIO {
  stdout: { write(s: string): unknown; isTTY?: boolean };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** Fires on SIGTERM/SIGINT. */
  signal: AbortSignal;
}

export type Command = (args: string[], io: CliIO) => Promise<number>;

/** Usage mistakes exit 2 like config errors. */
export class UsageError extends ConfigError {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with errors turned into one readable UsageError. */
export function parseFlags<T extends Options>(
  args: string[],
  options: T,
  usage: string,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(message, { hint: `usage: ${usage}` });
  }
}

/** Flags every config-loading command accepts. */
export const configFlags = {
  config: { type: 'string' },
  service: { type: 'string' },
  discovery: { type: 'string' },
  timeout: { type: 'string' },
} as const satisfies Options;

export function parseMs(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new UsageError(`--${flag}: expected a positive integer of milliseconds, got "${value}"`, { hint: `e.g. --${flag} 5000` });
  }
  return Number(value);
}

export async function loadCliConfig(
  values: { config?: string | undefined; service?: string | undefined; discovery?: string | undefined },
  io: CliIO,
  overrides: Record<string, unknown> = {},
): Promise<Config> {
  const merged = { ...overrides };
  if (values.service !== undefined) merged.service = values.service;
  return loadConfig({
    ...(values.config !== undefined ? { file: values.config } : {}),
    ...(values.discovery !== undefined ? { discovery: values.discovery } : {}),
    env: io.env,
    overrides: merged,
  });
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag}: expected one of ${allowed.join(', ')}, got "${value}"`, { hint: `e.g. --${flag} ${allowed[0]}` });
  }
  return value as T;
}

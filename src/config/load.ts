import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { canonicalMethod, optionsSchemaFor } from './discovery.js';
import { configErrorFrom, describeIssues } from './issues.js';
import { parseOneLine } from './one-line.js';
import { Config, type ConfigInput } from './schema.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type PartialConfigInput = DeepPartial<ConfigInput> & Obj;

/**
 * Later wins; objects merge key by key, arrays and scalars replace. A discovery block naming a
 * different method replaces the earlier block whole (its keys would be unknown to the new method).
 */
export function mergeConfig(base: Obj, override: Obj): Obj {
  const out: Obj = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue;
    const prev = out[key];
    if (
      key === 'discovery' &&
      isObj(prev) &&
      isObj(value) &&
      typeof value.method === 'string' &&
      canonicalMethod(String(value.method)) !== canonicalMethod(String(prev.method))
    ) {
      out[key] = value;
    } else out[key] = isObj(prev) && isObj(value) ? mergeConfig(prev, value) : value;
  }
  return out;
}

/** Valid keys at a path of the raw input, for "did you mean" suggestions. */
function knownKeysAt(input: unknown) {
  return (path: readonly PropertyKey[]): string[] => {
    let schema: z.core.$ZodType | undefined = Config;
    let value: unknown = input;
    for (const seg of path) {
      schema = childSchema(schema, seg, value);
      value = isObj(value) || Array.isArray(value) ? (value as Obj)[seg as string] : undefined;
      if (!schema) return [];
    }
    return Object.keys(objectShape(schema, value) ?? {});
  };
}

function unwrap(s: z.core.$ZodType): z.core.$ZodType {
  const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
  if (def.innerType) return unwrap(def.innerType);
  if (def.type === 'pipe' && def.in) return unwrap(def.in);
  return s;
}

/** The object shape of `s` for `value`; a discovery union picks the shape of value's method. */
function objectShape(s: z.core.$ZodType, value: unknown): Record<string, z.core.$ZodType> | undefined {
  const def = unwrap(s)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType> };
  if (def.type === 'object') return def.shape;
  if (def.type === 'union' && isObj(value) && typeof value.method === 'string') {
    return optionsSchemaFor(value.method)?.shape as Record<string, z.core.$ZodType> | undefined;
  }
  return undefined;
}

function childSchema(s: z.core.$ZodType | undefined, seg: PropertyKey, value: unknown): z.core.$ZodType | undefined {
  if (!s) return undefined;
  const def = unwrap(s)._zod.def as { type: string; element?: z.core.$ZodType };
  if (def.type === 'array') return def.element;
  return objectShape(s, value)?.[seg as string];
}

/** Validates a complete config object; errors name every offending path. */
export function parseConfig(input: unknown, source?: string): Config {
  const result = Config.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw configErrorFrom(describeIssues(result.error.issues, knownKeysAt(input)), source);
}

export async function readConfigFile(file: string): Promise<Obj> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read config file ${file}: ${code ?? (err as Error).message}`, {
      hint: code === 'ENOENT' ? 'check the --config / CLUSTERSEED_CONFIG path' : 'check the file permissions',
      cause: err,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`, {
      hint: 'the config file is JSON (no comments, no trailing commas)',
    });
  }
  if (!isObj(data)) throw new ConfigError(`config file ${file}: expected a JSON object at the top level`, { hint: 'wrap the settings in { … }' });
  return data;
}

export interface LoadConfigOptions {
  /** Config file (JSON); [CLUSTERSEED_CONFIG]. */
  file?: string;
  /** Environment to read [process.env]. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Programmatic options or CLI flags: applied last. */
  overrides?: PartialConfigInput;
  /** One-line discovery (the --discovery flag), applied after the environment. */
  discovery?: string;
}

/** defaults → config file → environment → flags / programmatic options (later wins). */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.CLUSTERSEED_CONFIG || undefined);
  let merged: Obj = {};
  let source = 'defaults';
  if (file) {
    merged = await readConfigFile(file);
    source = file;
  }
  merged = applyEnvironment(merged, env);
  if (options.discovery !== undefined) {
    merged = mergeConfig(merged, { discovery: parseOneLine(options.discovery, { where: 'discovery', baseMethod: baseMethodOf(merged) }) });
  }
  if (options.overrides) merged = mergeConfig(merged, options.overrides);
  return parseConfig(merged, file ? source : undefined);
}

function baseMethodOf(config: Obj): string | undefined {
  const d = config.discovery;
  return isObj(d) && typeof d.method === 'string' ? d.method : undefined;
}

function applyEnvironment(config: Obj, env: Readonly<Record<string, string | undefined>>): Obj {
  let out = config;
  if (env.CLUSTERSEED_SERVICE) out = mergeConfig(out, { service: env.CLUSTERSEED_SERVICE });
  if (env.CLUSTERSEED_DISCOVERY) {
    out = mergeConfig(out, {
      discovery: parseOneLine(env.CLUSTERSEED_DISCOVERY, { where: 'CLUSTERSEED_DISCOVERY', baseMethod: baseMethodOf(out) }),
    });
  }
  if (env.CLUSTERSEED_MANAGEMENT_TOKEN) out = mergeConfig(out, { management: { token: env.CLUSTERSEED_MANAGEMENT_TOKEN } });
  return out;
}

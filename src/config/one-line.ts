import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { CANONICAL_METHODS, optionsSchemaFor } from './discovery.js';
import { suggest } from './issues.js';

/**
 * The one-line form of a discovery block, for env vars and flags (go-discover style):
 *   method=aws-ec2-tags tagKey=service ports=7626,7627 filters="tag:env=prod;instance-type=m5.large"
 * Space-separated key=value pairs; double quotes around values holding spaces, `"` or `=`
 * (`\"` and `\\` escape inside quotes). Values are coerced by the method's option schema:
 * numbers, booleans, comma lists, and `key:value` lists.
 */
export function tokenizeOneLine(text: string, where = 'discovery'): Map<string, string> {
  const pairs = new Map<string, string>();
  let i = 0;
  const fail = (key: string | undefined, message: string, hint: string) => new ConfigError(`${where}${key ? `.${key}` : ''}: ${message}`, { hint });
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let key = '';
    while (i < text.length && text[i] !== '=' && !/\s/.test(text[i]!)) key += text[i++];
    if (key === '') throw fail(undefined, `missing key before "=" at position ${i + 1}`, 'write key=value');
    if (text[i] !== '=') throw fail(key, 'missing "=" after key', `write ${key}=value`);
    i++; // '='
    let value = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const c = text[i]!;
        if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) throw fail(key, 'unbalanced quotes: no closing "', `close the quoted value: ${key}="…"`);
      if (i < text.length && !/\s/.test(text[i]!)) throw fail(key, 'unexpected text after closing quote', 'separate pairs with a space');
    } else {
      while (i < text.length && !/\s/.test(text[i]!)) value += text[i++];
      if (value.includes('"')) throw fail(key, 'unbalanced quotes in value', `quote the whole value: ${key}="…"`);
      if (value.includes('=')) throw fail(key, 'value holds "=" unquoted', `quote the value: ${key}="${value}"`);
    }
    if (value === '') throw fail(key, 'missing value after "="', `write ${key}=<value>, or leave the key out`);
    if (pairs.has(key)) throw fail(key, 'duplicate key', `give ${key} once (lists are comma-separated: ${key}=a,b)`);
    pairs.set(key, value);
  }
  return pairs;
}

type Kind = 'string' | 'number' | 'boolean' | 'list' | 'number-list' | 'kv-list' | 'nested';

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

function kindOf(schema: z.core.$ZodType): Kind {
  const s = unwrap(schema);
  const def = s._zod.def as { type: string; element?: z.core.$ZodType; options?: z.core.$ZodType[]; shape?: Record<string, unknown> };
  switch (def.type) {
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      const el = unwrap(def.element!);
      const t = (el._zod.def as { type: string }).type;
      if (t === 'number') return 'number-list';
      if (t === 'object' && 'key' in (el._zod.def as unknown as { shape: object }).shape) return 'kv-list';
      return t === 'string' ? 'list' : 'nested';
    }
    case 'union':
      // e.g. filters: string | [{name, values}] — the one-line form is the string form.
      return def.options!.some((o) => (unwrap(o)._zod.def as { type: string }).type === 'string') ? 'string' : 'nested';
    default:
      return 'string';
  }
}

function coerce(kind: Kind, raw: string, path: string): unknown {
  const split = (s: string) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const num = (s: string) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s); // leave bad input for zod to report
  switch (kind) {
    case 'number':
      return num(raw);
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'list':
      return split(raw);
    case 'number-list':
      return split(raw).map(num);
    case 'kv-list':
      return split(raw).map((pair) => {
        const c = pair.indexOf(':');
        if (c <= 0) throw new ConfigError(`${path}: expected key:value pairs, got "${pair}"`, { hint: `write ${path.split('.').pop()}=key:value,key2:value2` });
        return { key: pair.slice(0, c), value: pair.slice(c + 1) };
      });
    case 'nested':
      throw new ConfigError(`${path}: cannot be given in the one-line form`, { hint: 'use a JSON config file (--config) for this key' });
    default:
      return raw;
  }
}

/**
 * Parses the one-line form into a discovery block. `baseMethod` is the method of the block this one
 * is merged into, used when the line has no `method=` key.
 */
export function parseOneLine(text: string, options: { where?: string; baseMethod?: string } = {}): Record<string, unknown> {
  const where = options.where ?? 'discovery';
  const pairs = tokenizeOneLine(text, where);
  const methodName = pairs.get('method') ?? options.baseMethod;
  if (methodName === undefined) {
    throw new ConfigError(`${where}.method: required`, { hint: `start with method=<${CANONICAL_METHODS.join('|')}>` });
  }
  const schema = optionsSchemaFor(methodName);
  if (!schema) {
    throw new ConfigError(`${where}.method: unknown method "${methodName}"`, {
      hint: `use one of ${CANONICAL_METHODS.join(', ')} (Pekko/Akka names are accepted too)`,
    });
  }
  const shape = schema.shape as Record<string, z.core.$ZodType>;
  const out: Record<string, unknown> = {};
  for (const [key, raw] of pairs) {
    const path = `${where}.${key}`;
    const field = shape[key];
    if (!field) {
      const hint = suggest(key, Object.keys(shape));
      throw new ConfigError(`${path}: unknown key for method "${methodName}"${hint ? ` — did you mean "${hint}"?` : ''}`, {
        hint: `valid keys: ${Object.keys(shape).join(', ')}`,
      });
    }
    out[key] = key === 'method' ? raw : coerce(kindOf(field), raw, path);
  }
  return out;
}

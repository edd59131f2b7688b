import type { z } from 'zod';
import { ConfigError } from '../errors.js';

/** `discovery.ports[1]` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out || '(root)';
}

const show = (v: unknown) => {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
};

/** Levenshtein distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

export interface ConfigProblem {
  path: string;
  message: string;
  /** How to fix it, when the rule knows better than the generic hint. */
  hint?: string;
}

/** One readable problem per zod issue. `knownKeys(path)` lists valid keys for "did you mean". */
export function describeIssues(issues: readonly z.core.$ZodIssue[], knownKeys?: (path: readonly PropertyKey[]) => string[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const hint = knownKeys ? suggest(key, knownKeys(issue.path)) : undefined;
          out.push({
            path: formatPath([...issue.path, key]),
            message: `unknown key${hint ? ` — did you mean "${hint}"?` : ''}`,
          });
        }
        break;
      case 'invalid_type':
        out.push({
          path: formatPath(issue.path),
          message:
            issue.input === undefined
              ? 'required'
              : issue.message.startsWith('expected ') && issue.message.includes(', got ')
                ? issue.message
                : `expected ${issue.expected}, got ${show(issue.input)}`,
        });
        break;
      case 'invalid_value':
        out.push({
          path: formatPath(issue.path),
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(issue.input)}`,
        });
        break;
      case 'invalid_union': {
        const note = (issue as { note?: string }).note;
        const discriminator = (issue as { discriminator?: string }).discriminator;
        if (note === 'No matching discriminator' || discriminator) {
          const input = issue.input as Record<string, unknown> | undefined;
          const value = input && typeof input === 'object' ? input[discriminator ?? 'method'] : undefined;
          const key = discriminator ?? 'method';
          out.push({
            path: formatPath(issue.path[issue.path.length - 1] === key ? issue.path : [...issue.path, key]),
            message: value === undefined ? 'required' : `unknown method ${show(value)}`,
          });
        } else if (issue.errors.length > 0) {
          // Report the branch that got furthest (fewest issues).
          const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
          out.push(
            ...describeIssues(
              best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })),
              knownKeys,
            ),
          );
        } else out.push({ path: formatPath(issue.path), message: issue.message });
        break;
      }
      default: {
        // A custom rule may carry its own fix: `params: { hint }`.
        const hint = issue.code === 'custom' ? (issue.params as { hint?: unknown } | undefined)?.hint : undefined;
        out.push({ path: formatPath(issue.path), message: issue.message, ...(typeof hint === 'string' ? { hint } : {}) });
      }
    }
  }
  return out;
}

export function configErrorFrom(problems: readonly ConfigProblem[], source?: string): ConfigError {
  const first = problems[0];
  const where = source ? ` (in ${source})` : '';
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  const err = new ConfigError(`invalid configuration${where}: ${lines.join('; ')}`, {
    hint: first ? hintFor(first) : undefined,
  });
  (err as ConfigError & { problems: readonly ConfigProblem[] }).problems = problems;
  return err;
}

function hintFor(p: ConfigProblem): string {
  if (p.hint !== undefined) return p.hint;
  if (p.message.startsWith('unknown key')) return 'remove or correct the key; `clusterseed config schema` lists every key';
  if (p.message.startsWith('unknown method')) return 'see docs/README.md for the discovery methods and their aliases';
  if (p.message === 'required') return `set ${p.path}`;
  return `fix ${p.path}; \`clusterseed config schema\` documents every key`;
}

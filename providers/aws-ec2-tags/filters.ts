import { ConfigError } from '../../src/errors.js';
import type { Ec2TagsOptions } from './options.js';

/** One DescribeInstances filter, in the SDK's shape. */
export interface Ec2ApiFilter {
  Name: string;
  Values: string[];
}

export const FILTER_STRING_HINT = 'e.g. "instance-type=m5.large;tag:env=prod", or the array form [{"name": "...", "values": ["..."]}]';

/**
 * Pekko's filter string: `name=value;name=value` (one value per entry, entries AND'd), e.g.
 * `"instance-type=m5.large;tag:env=prod"`. The value is everything after the first `=`, so tag
 * values may contain `=`. Use the array form for several values per filter (OR'd).
 * Pure (no SDK, no error type): the options schema validates with it, so `config check` rejects
 * exactly the strings a lookup would.
 */
export function parseFilterEntries(text: string): { filters: Ec2ApiFilter[] } | { problem: string } {
  const filters: Ec2ApiFilter[] = [];
  for (const raw of text.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0) return { problem: `entry "${entry}" is not name=value` };
    filters.push({ Name: entry.slice(0, eq).trim(), Values: [entry.slice(eq + 1).trim()] });
  }
  return { filters };
}

/** parseFilterEntries, or a ConfigError naming discovery.filters (unreachable with a validated config). */
export function parseFilterString(text: string): Ec2ApiFilter[] {
  const parsed = parseFilterEntries(text);
  if ('problem' in parsed) throw new ConfigError(`discovery.filters: ${parsed.problem}`, { hint: FILTER_STRING_HINT });
  return parsed.filters;
}

/**
 * The filters of every lookup: running instances tagged `<tagKey>=<tagValue or service>`, plus the
 * configured extra filters. Stopped or pending instances are never contact points.
 */
export function buildFilters(options: Pick<Ec2TagsOptions, 'tagKey' | 'tagValue' | 'filters'>, service: string): Ec2ApiFilter[] {
  const extra =
    options.filters === undefined
      ? []
      : typeof options.filters === 'string'
        ? parseFilterString(options.filters)
        : options.filters.map((f) => ({ Name: f.name, Values: [...f.values] }));
  return [{ Name: 'instance-state-name', Values: ['running'] }, { Name: `tag:${options.tagKey}`, Values: [options.tagValue ?? service] }, ...extra];
}

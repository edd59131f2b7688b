import { readFileSync } from 'node:fs';

/** resolv.conf's name search rules: the search list and the `ndots` threshold. */
export interface SearchSettings {
  search: string[];
  ndots: number;
}

export const NO_SEARCH: SearchSettings = { search: [], ndots: 1 };

/** The `search` (or `domain`) and `options ndots:N` lines of resolv.conf; the last search/domain line wins, as in glibc. */
export function parseResolvConf(text: string): SearchSettings {
  let search: string[] = [];
  let ndots = 1;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === 'search') search = args.filter(Boolean);
    else if (keyword === 'domain' && args[0]) search = [args[0]];
    else if (keyword === 'options') {
      for (const opt of args) {
        const m = /^ndots:(\d+)$/.exec(opt);
        if (m) ndots = Math.min(15, Number(m[1]));
      }
    }
  }
  return { search: search.map((d) => d.replace(/\.$/, '')).filter((d) => d !== ''), ndots };
}

export function readResolvConf(file = '/etc/resolv.conf'): SearchSettings {
  try {
    return parseResolvConf(readFileSync(file, 'utf8'));
  } catch {
    return NO_SEARCH;
  }
}

/**
 * Names to try, in order (resolv.conf semantics): a name ending in "." is absolute; a name with at
 * least `ndots` dots is tried as is first, then with each search domain; a shorter one the other way
 * round. So `products` in a Kubernetes pod becomes `products.<ns>.svc.cluster.local` first.
 */
export function candidateNames(name: string, settings: SearchSettings): string[] {
  if (name.endsWith('.')) return [name.slice(0, -1)];
  const searched = settings.search.map((d) => `${name}.${d}`);
  const dots = name.split('.').length - 1;
  return dots >= settings.ndots ? [name, ...searched] : [...searched, name];
}

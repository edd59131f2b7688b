import { describe, expect, it } from 'vitest';
import { formatHocon, formatJavaOpts, parseJvmFlags, seedNodeAddresses } from '../../src/cli/jvm-format.js';
import { formatResult } from '../../src/cli/result-format.js';
import type { BootstrapResult } from '../../src/bootstrap/strategy.js';

/**
 * A minimal HOCON reader for what we print: `a.b.c = [ "quoted", … ]` lines, comments and blank
 * lines, quoted strings with JSON escapes. Anything else is a syntax error, so a malformed line fails.
 */
function parseHoconSubset(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    const m = /^([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)\s*[=:]\s*\[(.*)\]$/.exec(line);
    if (!m) throw new SyntaxError(`not a HOCON list assignment: ${line}`);
    const items: string[] = [];
    let rest = m[2]!.trim();
    while (rest !== '') {
      const s = /^"((?:[^"\\]|\\.)*)"\s*(,\s*|$)/.exec(rest);
      if (!s) throw new SyntaxError(`bad list element at: ${rest}`);
      items.push(JSON.parse(`"${s[1]}"`) as string);
      rest = rest.slice(s[0].length);
    }
    const path = m[1]!.split('.');
    let node = root;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = items;
  }
  return root;
}

/** -Dkey.N=value properties back into lists, the way Typesafe Config merges indexed system properties. */
function parseJavaOpts(text: string): Record<string, string[]> {
  const lists: Record<string, string[]> = {};
  for (const opt of text.trim().split(/\s+/)) {
    const m = /^-D(.+)\.(\d+)=(.+)$/.exec(opt);
    if (!m) throw new SyntaxError(`not an indexed -D property: ${opt}`);
    (lists[m[1]!] ??= [])[Number(m[2])] = m[3]!;
  }
  return lists;
}

const seeds = [
  { host: '10.0.1.7', port: 7626 },
  { host: 'fd00::1', port: 7627 },
  { host: 'node-c.internal', port: 7628 },
];
const result: BootstrapResult = { seeds, self: seeds[1]!, formedNewCluster: false, strategy: 'lowest-address', elapsedMs: 812 };

describe('--format hocon / java-opts', () => {
  it('hocon parses as the seed-nodes list, first seed first, IPv6 in brackets, --remote-port for every seed', () => {
    const text = formatHocon(seeds, { system: 'Products', protocol: 'pekko', remotePort: 25520 });
    expect(text).toBe(
      'pekko.cluster.seed-nodes = ["pekko://Products@10.0.1.7:25520", "pekko://Products@[fd00::1]:25520", "pekko://Products@node-c.internal:25520"]\n',
    );
    expect(parseHoconSubset(text)).toEqual({
      pekko: { cluster: { 'seed-nodes': ['pekko://Products@10.0.1.7:25520', 'pekko://Products@[fd00::1]:25520', 'pekko://Products@node-c.internal:25520'] } },
    });
  });

  it("akka protocol and the contact points' own ports without --remote-port", () => {
    const parsed = parseHoconSubset(formatHocon(seeds, { system: 'sys', protocol: 'akka' }));
    expect(parsed).toEqual({
      akka: { cluster: { 'seed-nodes': ['akka://sys@10.0.1.7:7626', 'akka://sys@[fd00::1]:7627', 'akka://sys@node-c.internal:7628'] } },
    });
  });

  it('java-opts are indexed system properties that rebuild the same list', () => {
    const text = formatJavaOpts(seeds, { system: 'Products', protocol: 'pekko', remotePort: 2552 });
    expect(text).toMatch(/^-Dpekko\.cluster\.seed-nodes\.0=pekko:\/\/Products@10\.0\.1\.7:2552 /);
    expect(parseJavaOpts(text)).toEqual({ 'pekko.cluster.seed-nodes': seedNodeAddresses(seeds, { system: 'Products', protocol: 'pekko', remotePort: 2552 }) });
  });

  it('a seed without a port and no --remote-port is an error with a hint', () => {
    expect(() => formatHocon([{ host: '10.0.0.1' }], { system: 's', protocol: 'pekko' })).toThrow(/has no port/);
  });

  it('formatResult dispatches hocon and java-opts', () => {
    const jvm = { system: 'S', protocol: 'pekko' as const, remotePort: 25520 };
    expect(formatResult(result, 'hocon', { jvm })).toBe(formatHocon(seeds, jvm));
    expect(formatResult(result, 'java-opts', { jvm })).toBe(formatJavaOpts(seeds, jvm));
  });

  it('flag validation', () => {
    expect(parseJvmFlags({ system: 'Products' }, 'hocon')).toEqual({ system: 'Products', protocol: 'pekko' });
    expect(parseJvmFlags({ system: 'a_b-1', protocol: 'akka', 'remote-port': '2552' }, 'java-opts')).toEqual({
      system: 'a_b-1',
      protocol: 'akka',
      remotePort: 2552,
    });
    expect(parseJvmFlags({}, 'json')).toBeUndefined();
    expect(() => parseJvmFlags({}, 'hocon')).toThrow('--format hocon needs --system NAME');
    expect(() => parseJvmFlags({ system: 'bad name' }, 'hocon')).toThrow('not a valid ActorSystem name');
    expect(() => parseJvmFlags({ system: 's', protocol: 'lagom' }, 'hocon')).toThrow('--protocol: expected one of pekko, akka');
    expect(() => parseJvmFlags({ system: 's', 'remote-port': '70000' }, 'hocon')).toThrow('--remote-port: expected integer 1-65535');
    expect(() => parseJvmFlags({ system: 's' }, 'env')).toThrow('--system only applies to --format hocon or java-opts');
  });

  it('the minimal HOCON reader rejects what it does not understand (so the tests above can fail)', () => {
    expect(() => parseHoconSubset('pekko.cluster.seed-nodes = [pekko://x@h:1]')).toThrow(SyntaxError);
    expect(() => parseHoconSubset('pekko.cluster.seed-nodes = "x"')).toThrow(SyntaxError);
  });
});

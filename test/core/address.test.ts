import { describe, expect, it } from 'vitest';
import { canonicalize, compareContactPoints, formatHostPort, lowestOf, parseHostPort } from '../../src/address.js';

describe('parseHostPort', () => {
  it.each([
    ['10.0.0.1:7626', { host: '10.0.0.1', port: 7626 }],
    ['10.0.0.1', { host: '10.0.0.1' }],
    ['Host-B.example.com:80', { host: 'host-b.example.com', port: 80 }],
    ['[fd00::1]:7626', { host: 'fd00::1', port: 7626 }],
    ['[FD00:0:0::1]', { host: 'fd00::1' }],
    ['fd00::1', { host: 'fd00::1' }],
    ['[::ffff:10.0.0.1]:1', { host: '::ffff:a00:1', port: 1 }],
  ])('%s', (input, expected) => {
    expect(parseHostPort(input)).toEqual(expected);
  });

  it.each([
    ['10.0.0.1:0', 'port must be an integer 1-65535, got 0'],
    ['10.0.0.1:65536', 'port must be an integer 1-65535, got 65536'],
    ['10.0.0.1:abc', 'port must be an integer 1-65535, got "abc"'],
    ['[fd00::1', 'missing "]"'],
    ['fd00::1:7626x', 'need brackets'],
    ['[fd00::1]7626', 'expected ":port" after "]"'],
    ['bad_host!:1', 'is not a valid host name'],
    ['', 'empty address'],
  ])('rejects %s', (input, message) => {
    expect(() => parseHostPort(input)).toThrow(message);
  });

  it('formats IPv6 in brackets and round-trips', () => {
    for (const s of ['10.0.0.1:7626', '[fd00::1]:7626', 'fd00::1', 'host:1', 'host']) {
      const cp = parseHostPort(s);
      expect(parseHostPort(formatHostPort(cp))).toEqual(cp);
    }
    expect(formatHostPort({ host: 'fd00::1', port: 1 })).toBe('[fd00::1]:1');
  });
});

describe('canonical order (DESIGN §5.1)', () => {
  it('compares IPv4 numerically with unsigned bytes (Pekko compares signed)', () => {
    const sorted = canonicalize(['10.0.0.200', '10.0.0.5', '10.0.0.10', '9.255.255.255'].map((h) => ({ host: h })));
    expect(sorted.map((p) => p.host)).toEqual(['9.255.255.255', '10.0.0.5', '10.0.0.10', '10.0.0.200']);
  });

  it('puts IPv4 before IPv6 before host names, absent port first', () => {
    const input = [
      { host: 'b.example' },
      { host: 'A.example', port: 2 },
      { host: 'fd00::2' },
      { host: '::1', port: 5 },
      { host: '10.0.0.1', port: 2 },
      { host: '10.0.0.1' },
      { host: '10.0.0.1', port: 1 },
      { host: 'a.example' },
    ];
    expect(canonicalize(input).map(formatHostPort)).toEqual([
      '10.0.0.1',
      '10.0.0.1:1',
      '10.0.0.1:2',
      '[::1]:5',
      '[fd00::2]',
      'a.example',
      'a.example:2',
      'b.example',
    ]);
  });

  it('is a total order that every permutation sorts the same way', () => {
    const pool = ['10.0.0.1:1', '10.0.0.1', '[fd00::1]:2', 'x.y', '192.168.0.1:9', '[::]', '10.1.0.0:1', 'X.Y:1'].map(parseHostPort);
    const expected = canonicalize(pool);
    for (let seed = 1; seed < 50; seed++) {
      const shuffled = [...pool].sort(() => ((seed * 7919) % 13) - 6 + Math.sin(seed));
      expect(canonicalize(shuffled)).toEqual(expected);
    }
    for (const a of pool) for (const b of pool) expect(Math.sign(compareContactPoints(a, b)) + Math.sign(compareContactPoints(b, a))).toBe(0);
  });

  it('de-duplicates by (host, port), normalising IPv6 spellings and case', () => {
    const out = canonicalize([
      { host: 'fd00:0::1', port: 1, meta: { first: 'yes' } },
      { host: 'FD00::1', port: 1 },
      { host: 'Host', port: 1 },
      { host: 'host', port: 1 },
      { host: 'host' },
    ]);
    expect(out).toEqual([{ host: 'fd00::1', port: 1, meta: { first: 'yes' } }, { host: 'host' }, { host: 'host', port: 1 }]);
  });

  it('lowestOf', () => {
    expect(lowestOf([{ host: '10.0.0.10' }, { host: '10.0.0.9' }])).toEqual({ host: '10.0.0.9' });
    expect(lowestOf([])).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { createDiscovery } from '../../src/registry.js';
import { ConfigError, DiscoveryError } from '../../src/errors.js';

describe('static', () => {
  it('returns the configured list in canonical order', async () => {
    const p = await createDiscovery({
      method: 'static',
      contactPoints: ['10.0.0.10:7626', '10.0.0.2:7626', '[fd00::1]:7626', '10.0.0.200:7626', '10.0.0.2:7626'],
    });
    expect(await p.resolve({ service: 'x' })).toEqual([
      { host: '10.0.0.2', port: 7626 },
      { host: '10.0.0.10', port: 7626 },
      { host: '10.0.0.200', port: 7626 },
      { host: 'fd00::1', port: 7626 },
    ]);
  });

  it('accepts the Pekko "config" alias', async () => {
    const p = await createDiscovery({ method: 'config', contactPoints: ['a:1'] });
    expect(p.method).toBe('static');
  });

  it('rejects a bad block with the key path', async () => {
    await expect(createDiscovery({ method: 'static', contactPoints: ['a:0'] } as never)).rejects.toThrow(
      'discovery.contactPoints[0]: invalid address "a:0": port must be an integer 1-65535, got 0',
    );
  });
});

describe('aggregate', () => {
  it('first non-empty success wins', async () => {
    const p = await createDiscovery({
      method: 'aggregate',
      methods: [
        { method: 'static', contactPoints: [] },
        { method: 'static', contactPoints: ['b:2'] },
        { method: 'static', contactPoints: ['a:1'] },
      ],
    });
    expect(await p.resolve({ service: 'x' })).toEqual([{ host: 'b', port: 2 }]);
  });

  it('a failing method falls through to the next', async () => {
    const p = await createDiscovery(
      {
        method: 'aggregate',
        methods: [
          { method: 'etcd', endpoints: ['http://127.0.0.1:1'], leaseTtlSeconds: 2 },
          { method: 'static', contactPoints: ['b:2'] },
        ],
      },
      { timeoutMs: 3000 },
    );
    expect(await p.resolve({ service: 'x' }, { timeoutMs: 3000 })).toEqual([{ host: 'b', port: 2 }]);
    await p.close();
  });

  it('fails with every cause when no method has contact points and one failed', async () => {
    const p = await createDiscovery({
      method: 'aggregate',
      methods: [
        { method: 'file', directory: '/proc/definitely/not/here' },
        { method: 'static', contactPoints: [] },
        { method: 'aws-ec2-tags', endpoint: 'http://127.0.0.1:1' },
      ],
    });
    const err = await p.resolve({ service: 'x' }, { timeoutMs: 3000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as DiscoveryError).errors.length).toBeGreaterThanOrEqual(1);
    expect((err as DiscoveryError).message).toMatch(/^aggregate: no method returned contact points and \d of 3 failed: \[1\]/);
  });

  it('all empty is an empty answer', async () => {
    const p = await createDiscovery({ method: 'aggregate', methods: [{ method: 'static' }, { method: 'static', contactPoints: [] }] });
    expect(await p.resolve({ service: 'x' })).toEqual([]);
  });

  it('an unknown nested method is a config error', async () => {
    await expect(createDiscovery({ method: 'aggregate', methods: [{ method: 'nope' }] } as never)).rejects.toBeInstanceOf(ConfigError);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { configJsonSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-config-'));
function file(name: string, content: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, content);
  return f;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills every default', () => {
    const c = parseConfig({ service: 'products-api' });
    expect(c.discovery).toEqual({ method: 'file', directory: path.join(os.tmpdir(), 'clusterseed'), ttlMs: 15000 });
    expect(c.bootstrap).toMatchObject({
      strategy: 'lowest-address',
      requiredContactPoints: 2,
      stableMarginMs: 5000,
      probeIntervalMs: 1000,
      probeTimeoutMs: 1000,
      probeFailureWindowMs: 3000,
      discoveryIntervalMs: 1000,
      discoveryMaxBackoffMs: 15000,
      newClusterEnabled: true,
    });
    expect(c.bootstrap.bootstrapTimeoutMs).toBeUndefined();
    expect(c.management).toEqual({ host: '0.0.0.0', port: 7626 });
  });

  it('rewrites Pekko aliases to canonical names, nested ones included', () => {
    const c = parseConfig({
      service: 's',
      discovery: { method: 'aggregate', methods: [{ method: 'akka-dns' }, { method: 'config', contactPoints: ['a:1'] }] },
    });
    expect(c.discovery).toMatchObject({ method: 'aggregate', methods: [{ method: 'dns' }, { method: 'static', contactPoints: ['a:1'] }] });
    expect(parseConfig({ service: 's', discovery: { method: 'aws-api-ecs-task-set-async' } }).discovery.method).toBe('aws-ecs-task-set');
  });

  it.each([
    [{ service: 's', discovery: { method: 'aws-ec2-tags', ports: [7626, 'abc'] } }, 'discovery.ports[1]: expected integer 1-65535, got "abc"'],
    [{ service: 's', discovery: { method: 'aws-ec2-tags', ports: [70000] } }, 'discovery.ports[0]: expected integer 1-65535, got 70000'],
    [{ service: 's', discovery: { method: 'aws-ec2-tags', tagkey: 'x' } }, 'discovery.tagkey: unknown key — did you mean "tagKey"?'],
    [{ service: 's', bootstrap: { stableMargin: 1 } }, 'bootstrap.stableMargin: unknown key — did you mean "stableMarginMs"?'],
    [{ service: 's', servce: 'x' }, 'servce: unknown key — did you mean "service"?'],
    [{ service: 's', discovery: { method: 'zookeper' } }, 'discovery.method: unknown method "zookeper"'],
    [{ service: 's', discovery: {} }, 'discovery.method: required'],
    [{}, 'service: required'],
    [{ service: '' }, 'service: must not be empty'],
    [{ service: 's', bootstrap: { strategy: 'lowest' } }, 'bootstrap.strategy: expected one of "lowest-address", "lock", got "lowest"'],
    [{ service: 's', bootstrap: { stableMarginMs: -1 } }, 'bootstrap.stableMarginMs: expected integer 0-86400000 ms, got -1'],
    [{ service: 's', bootstrap: { newClusterEnabled: 'yes' } }, 'bootstrap.newClusterEnabled: expected true or false, got "yes"'],
    [{ service: 's', management: { port: 65536 } }, 'management.port: expected integer 0-65535, got 65536'],
    [{ service: 's', self: { host: '10.0.0.1', mode: 'ecs' } }, 'self.mode: give either "host" (explicit) or "mode" (resolved), not both'],
    [
      { service: 's', discovery: { method: 'static', contactPoints: ['10.0.0.1:99999'] } },
      'discovery.contactPoints[0]: invalid address "10.0.0.1:99999": port must be an integer 1-65535, got 99999',
    ],
    [
      { service: 's', discovery: { method: 'etcd', endpoints: [] } },
      'discovery.endpoints: expected at least one etcd endpoint, e.g. ["http://127.0.0.1:2379"]',
    ],
    [{ service: 's', discovery: { method: 'etcd', endpoints: ['x'], leaseTtlSeconds: 1 } }, 'discovery.leaseTtlSeconds: expected integer 2-3600 s, got 1'],
    [{ service: 's', discovery: { method: 'consul', sessionTtlSeconds: 5 } }, 'discovery.sessionTtlSeconds: expected integer 10-86400 s, got 5'],
    [{ service: 's', discovery: { method: 'zookeeper' } }, 'discovery.connectionString: required'],
    [
      { service: 's', discovery: { method: 'aws-ec2-tags', endpoint: 'not a url' } },
      'discovery.endpoint: expected a URL such as http://127.0.0.1:4566, got "not a url"',
    ],
    [{ service: 's', discovery: { method: 'aggregate', methods: [{ method: 'static', bogus: 1 }] } }, 'discovery.methods[0].bogus: unknown key'],
    [{ service: 's', discovery: { method: 'aggregate', methods: [] } }, 'discovery.methods: expected at least one method'],
    [{ service: 's', discovery: { method: 'aws-ec2-tags', filters: [{ name: 'x', values: [] }] } }, 'discovery.filters[0].values'],
  ])('%j → %s', (input, message) => {
    const err = configError(() => parseConfig(input));
    expect(err.message).toContain(message);
    expect(err.code).toBe('CLUSTERSEED_E_CONFIG');
    expect(err.hint).toBeTruthy();
  });

  it('reports every problem, not only the first', () => {
    const err = configError(() => parseConfig({ service: 's', bootstrap: { probeIntervalMs: 0, bogus: 1 } }));
    expect(err.message).toContain('bootstrap.probeIntervalMs: expected integer 1-86400000 ms, got 0');
    expect(err.message).toContain('bootstrap.bogus: unknown key');
  });
});

describe('loadConfig', () => {
  it('merges defaults → file → environment → flags (later wins)', async () => {
    const f = file(
      'ok.json',
      JSON.stringify({ service: 'from-file', discovery: { method: 'aws-ec2-tags', tagKey: 'app', ports: [1] }, bootstrap: { stableMarginMs: 100 } }),
    );
    const c = await loadConfig({
      file: f,
      env: { CLUSTERSEED_SERVICE: 'from-env', CLUSTERSEED_DISCOVERY: 'ports=2,3', CLUSTERSEED_MANAGEMENT_TOKEN: 'sekret' },
      discovery: 'addressType=ipv6',
      overrides: { bootstrap: { probeIntervalMs: 50 } },
    });
    expect(c.service).toBe('from-env');
    expect(c.discovery).toMatchObject({ method: 'aws-ec2-tags', tagKey: 'app', ports: [2, 3], addressType: 'ipv6' });
    expect(c.bootstrap).toMatchObject({ stableMarginMs: 100, probeIntervalMs: 50 });
    expect(c.management.token).toBe('sekret');
  });

  it('a later discovery block with another method replaces the earlier one whole', async () => {
    const f = file('replace.json', JSON.stringify({ service: 's', discovery: { method: 'aws-ec2-tags', tagKey: 'app' } }));
    const c = await loadConfig({ file: f, env: {}, discovery: 'method=static contactPoints=a:1' });
    expect(c.discovery).toEqual({ method: 'static', contactPoints: ['a:1'] });
  });

  it('reads CLUSTERSEED_CONFIG', async () => {
    const f = file('env.json', JSON.stringify({ service: 'via-env-file' }));
    expect((await loadConfig({ env: { CLUSTERSEED_CONFIG: f } })).service).toBe('via-env-file');
  });

  it.each([
    ['missing.json', null, 'cannot read config file', 'check the --config / CLUSTERSEED_CONFIG path'],
    ['bad.json', '{"service": "x",}', 'is not valid JSON', 'the config file is JSON (no comments, no trailing commas)'],
    ['array.json', '[1]', 'expected a JSON object at the top level', 'wrap the settings in { … }'],
    [
      'typo.json',
      '{"service":"x","discovery":{"method":"static","contactPoint":["a"]}}',
      'discovery.contactPoint: unknown key — did you mean "contactPoints"?',
      'remove or correct the key',
    ],
  ])('%s', async (name, content, message, hint) => {
    const f = content === null ? path.join(dir, name) : file(name, content);
    const err = await loadConfig({ file: f, env: {} }).then(
      () => undefined,
      (e: unknown) => e as ConfigError,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain(message);
    expect(err!.message).toContain(f === undefined ? '' : name);
    expect(err!.hint).toContain(hint);
  });

  it('an invalid environment variable names itself', async () => {
    await expect(loadConfig({ env: { CLUSTERSEED_SERVICE: 's', CLUSTERSEED_DISCOVERY: 'method=static oops' } })).rejects.toThrow(
      'CLUSTERSEED_DISCOVERY.oops: missing "=" after key',
    );
  });
});

describe('JSON Schema', () => {
  it('describes every provider block and rejects unknown keys', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown>; additionalProperties: unknown };
    expect(Object.keys(schema.properties)).toEqual(['service', 'discovery', 'bootstrap', 'management', 'self']);
    expect(schema.additionalProperties).toBe(false);
    const text = JSON.stringify(schema);
    for (const m of [
      'aws-ec2-tags',
      'aws-api-ec2-tag-based',
      'aws-ecs',
      'aws-ecs-task-set',
      'consul',
      'zookeeper',
      'etcd',
      'dns',
      'file',
      'static',
      'aggregate',
    ]) {
      expect(text).toContain(`"${m}"`);
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { EtcdOptions } from '../../providers/etcd/options.js';

// The etcd TLS and user rules live in the schema, so `config check` and loadConfig() reject them
// before anything starts (the ETCDCTL_* variables are checked at start-up: etcd-tls.test.ts).

const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-etcd-config-'));
const pem = path.join(dir, 'some.pem');
writeFileSync(pem, '-----BEGIN CERTIFICATE-----\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(discovery: Record<string, unknown>): string {
  try {
    parseConfig({ service: 's', discovery: { method: 'etcd', ...discovery } });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  return 'ok';
}

describe('etcd options: TLS files, users and endpoints', () => {
  it.each([
    [{ endpoints: ['https://e:2379'], certFile: pem }, 'discovery.keyFile: required when certFile is set'],
    [{ endpoints: ['https://e:2379'], keyFile: pem }, 'discovery.certFile: required when keyFile is set'],
    [{ endpoints: ['https://e:2379'], caFile: path.join(dir, 'missing.pem') }, `discovery.caFile: file "${path.join(dir, 'missing.pem')}" does not exist`],
    [{ endpoints: ['https://e:2379'], certFile: dir, keyFile: pem }, `discovery.certFile: "${dir}" is not a regular file`],
    [{ endpoints: ['https://a:2379', 'http://b:2379'] }, 'discovery.endpoints: mixes http:// and https:// endpoints'],
    [{ endpoints: ['http://a:2379'], caFile: pem }, 'discovery.caFile: TLS files are set but the endpoints are http://'],
    [{ endpoints: ['http://a:2379'], certFile: pem, keyFile: pem }, 'discovery.certFile: TLS files are set but the endpoints are http://'],
    [
      { endpoints: ['unix:///run/etcd.sock'] },
      'discovery.endpoints[0]: expected http://host:port, https://host:port or host:port, got "unix:///run/etcd.sock"',
    ],
    [{ endpoints: ['https://a:2379/v3'] }, 'discovery.endpoints[0]: expected http://host:port'],
    [{ endpoints: ['a:2379'], username: 'app' }, 'discovery.password: required when username is set'],
    [{ endpoints: ['a:2379'], password: 'secret-value' }, 'discovery.username: required when password is set'],
  ])('%j → %s', (discovery, message) => {
    expect(problems(discovery)).toContain(message);
  });

  it('reports the file problem and the pairing problem together', () => {
    const message = problems({ endpoints: ['https://e:2379'], caFile: path.join(dir, 'nope'), certFile: pem });
    expect(message).toContain('discovery.caFile: file');
    expect(message).toContain('discovery.keyFile: required when certFile is set');
  });

  it('accepts TLS with https:// or scheme-less endpoints, and no endpoints at all (ETCDCTL_ENDPOINTS)', () => {
    expect(problems({ endpoints: ['https://a:2379', 'b:2379'], caFile: pem, certFile: pem, keyFile: pem })).toBe('ok');
    expect(problems({ endpoints: ['a:2379'], caFile: pem })).toBe('ok');
    expect(problems({})).toBe('ok');
  });

  it('never shows the password in an error', () => {
    expect(problems({ endpoints: ['a:2379'], password: 'secret-value' })).not.toContain('secret-value');
  });

  it('the JSON Schema still lists the TLS keys', () => {
    expect(Object.keys(EtcdOptions.shape)).toEqual(expect.arrayContaining(['caFile', 'certFile', 'keyFile', 'endpoints']));
  });
});

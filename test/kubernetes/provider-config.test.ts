import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKubernetesClient } from '../../providers/kubernetes-api/client.js';
import { resolveInClusterConfig } from '../../providers/kubernetes-api/in-cluster.js';
import { ServiceAccountToken } from '../../providers/kubernetes-api/token.js';
import { ConfigError } from '../../src/errors.js';
import { manualClock } from './provider-helpers.js';

/* In-cluster configuration from the environment and the service-account files; the token cache. */

const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-k8s-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
const noFile = () => {
  throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
};
const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

describe('resolveInClusterConfig', () => {
  it('the API server from KUBERNETES_SERVICE_HOST/PORT, the files from the service-account mount', () => {
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, noFile)).toEqual({
      apiServer: 'https://10.96.0.1:443',
      caFile: `${SA}/ca.crt`,
      tokenFile: `${SA}/token`,
      namespace: 'default',
      namespaceSource: 'default',
    });
  });

  it('brackets an IPv6 service host (and accepts one already bracketed); the port defaults to 443', () => {
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, noFile).apiServer).toBe(
      'https://[fd00:10:96::1]:6443',
    );
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: '[fd00::1]' }, noFile).apiServer).toBe('https://[fd00::1]:443');
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc', KUBERNETES_SERVICE_PORT: '443' }, noFile).apiServer).toBe(
      'https://kubernetes.default.svc:443',
    );
  });

  it('apiServer wins over the environment (trailing slash dropped)', () => {
    expect(resolveInClusterConfig({ apiServer: 'https://api.example:6443/' }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, noFile).apiServer).toBe(
      'https://api.example:6443',
    );
  });

  it('no apiServer and no KUBERNETES_SERVICE_HOST: ConfigError naming the option and the variables', () => {
    const err = (() => {
      try {
        resolveInClusterConfig({}, {}, noFile);
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('discovery.apiServer');
    expect(err.message).toContain('KUBERNETES_SERVICE_HOST');
    expect(err.hint).toContain('KUBERNETES_SERVICE_PORT');
  });

  it('a bad port or host is a ConfigError naming the variable', () => {
    expect(() => resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: 'https' }, noFile)).toThrow(
      /KUBERNETES_SERVICE_PORT/,
    );
    expect(() => resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: 'a b' }, noFile)).toThrow(/KUBERNETES_SERVICE_HOST/);
  });

  it('namespace: option, else KUBERNETES_NAMESPACE, else the namespace file, else "default"', () => {
    const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_NAMESPACE: 'from-env' };
    const nsFile = file('namespace', 'from-file\n');
    expect(resolveInClusterConfig({ namespace: 'opt', namespaceFile: nsFile }, env)).toMatchObject({ namespace: 'opt', namespaceSource: 'option' });
    expect(resolveInClusterConfig({ namespaceFile: nsFile }, env)).toMatchObject({ namespace: 'from-env', namespaceSource: 'KUBERNETES_NAMESPACE' });
    expect(resolveInClusterConfig({ namespaceFile: nsFile }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toMatchObject({
      namespace: 'from-file',
      namespaceSource: 'file',
    });
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, noFile)).toMatchObject({ namespace: 'default', namespaceSource: 'default' });
    // the default path is read when namespaceFile is not set
    expect(resolveInClusterConfig({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, (f) => (f === `${SA}/namespace` ? 'shop' : noFile()))).toMatchObject({
      namespace: 'shop',
    });
  });

  it('an explicit namespaceFile that cannot be read, or holds no namespace name, is a ConfigError', () => {
    expect(() => resolveInClusterConfig({ namespaceFile: path.join(dir, 'missing') }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toThrow(
      /discovery\.namespaceFile/,
    );
    expect(() => resolveInClusterConfig({ namespaceFile: file('bad-ns', 'Not A Namespace') }, { KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toThrow(
      /not a namespace name/,
    );
  });
});

describe('createKubernetesClient config errors', () => {
  const env = {};
  it('a missing CA file names discovery.caFile and the fix', async () => {
    const err = (await createKubernetesClient(
      { apiServer: 'https://127.0.0.1:1', caFile: path.join(dir, 'no-ca'), tokenFile: file('t1', 'abcdefghij') },
      { env },
    ).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/discovery\.caFile: cannot read the cluster CA .*no such file/);
    expect(err.hint).toMatch(/set discovery\.caFile/);
  });

  it('a CA file that is not PEM', async () => {
    await expect(
      createKubernetesClient({ apiServer: 'https://127.0.0.1:1', caFile: file('ca-junk', 'hello'), tokenFile: file('t2', 'abcdefghij') }, { env }),
    ).rejects.toThrow(/discovery\.caFile: .* holds no PEM certificate/);
  });

  it('a missing or empty token file names discovery.tokenFile', async () => {
    const ca = file('ca.crt', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const err = (await createKubernetesClient({ apiServer: 'https://127.0.0.1:1', caFile: ca, tokenFile: path.join(dir, 'no-token') }, { env }).catch(
      (e: unknown) => e,
    )) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/discovery\.tokenFile: cannot read the service-account token .*no such file/);
    expect(err.hint).toMatch(/automountServiceAccountToken/);
    await expect(createKubernetesClient({ apiServer: 'https://127.0.0.1:1', caFile: ca, tokenFile: file('t-empty', '\n') }, { env })).rejects.toThrow(
      /discovery\.tokenFile: .*empty/,
    );
  });
});

describe('ServiceAccountToken', () => {
  it('caches for at most 60 s on the injected clock, then re-reads; refresh() re-reads at once', async () => {
    const clock = manualClock();
    const f = file('token', 'token-one-0123\n');
    const t = new ServiceAccountToken(f, { clock });
    expect(await t.load()).toBe('token-one-0123');
    writeFileSync(f, 'token-two-0123');
    clock.advance(59_999);
    expect(await t.get()).toBe('token-one-0123');
    clock.advance(1);
    expect(await t.get()).toBe('token-two-0123');
    writeFileSync(f, 'token-three-0123');
    expect(await t.get()).toBe('token-two-0123');
    expect(await t.refresh()).toBe('token-three-0123');
    expect(t.scrub('token-one-0123 / token-two-0123 / token-three-0123')).toBe('[redacted] / [redacted] / [redacted]');
  });

  it('a failed periodic re-read keeps the last token (logged without it); a forced one throws', async () => {
    const clock = manualClock();
    const f = file('token-gone', 'token-kept-0123');
    const lines: string[] = [];
    const log = (o: unknown, m?: string) => void lines.push(JSON.stringify(o) + (m ?? ''));
    const t = new ServiceAccountToken(f, { clock, logger: { debug: log, info: log, warn: log, error: log } });
    await t.load();
    rmSync(f);
    clock.advance(61_000);
    expect(await t.get()).toBe('token-kept-0123');
    await expect(t.refresh()).rejects.toThrow(/cannot read the service-account token/);
    expect(lines.some((l) => l.includes('cannot re-read'))).toBe(true);
    expect(lines.join('\n')).not.toContain('token-kept-0123');
  });

  it('concurrent reads share one read', async () => {
    const t = new ServiceAccountToken(file('token-c', 'token-conc-0123'));
    const [a, b] = await Promise.all([t.refresh(), t.refresh()]);
    expect(a).toBe(b);
  });
});

import { Etcd3 } from 'etcd3';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeError, type ClusterseedError } from '../../src/errors.js';
import { bootstrap } from '../../src/index.js';
import { createDiscovery } from '../../src/registry.js';
import type { SeedLock } from '../../src/lock/seed-lock.js';
import type { DiscoveryProvider, RegistryProvider } from '../../src/types.js';
import { getTestServers } from '../servers/index.js';
import { makePki, type Issued, type Pki } from '../fixtures/pki.js';
import { startTlsEtcd, type TlsEtcd } from '../servers/etcd-tls.js';
import { uniqueService } from './helpers.js';

/*
 * A real etcd (Debian's etcd-server) serving clients on https:// only, requiring client certificates
 * (--client-cert-auth), with authentication enabled: user "app" has a role with readwrite on
 * "clusterseed/", user "nobody" has a role on another prefix only. Every failure is a typed error
 * within the lookup timeout, and no password appears in any message, hint or cause.
 */

const PASSWORD = 'Pa55-word-never-shown-7f3a';
const NOBODY_PASSWORD = 'N0body-pa55-never-shown-91c2';
const TIMEOUT_MS = 3000;
/** Start-up of a provider, one handshake of our own, scheduling on a loaded machine. */
const SLACK_MS = 1500;

let etcd: TlsEtcd;
let other: Pki;
let expired: Issued;
const service = uniqueService('etcd-tls');

beforeAll(async () => {
  etcd = await startTlsEtcd();
  other = await makePki('a-ca-etcd-does-not-know');
  expired = await etcd.pki.issue('clusterseed-expired-client', { usage: 'client', expired: true });
  await enableAuth(etcd);
}, 120_000);

/** Authentication set up with etcd3 itself (no etcdctl): root, a role per prefix, two users, auth enable. */
async function enableAuth(server: TlsEtcd): Promise<void> {
  const admin = new Etcd3({
    hosts: [server.endpoint],
    credentials: {
      rootCertificate: readFileSync(server.pki.caFile),
      certChain: readFileSync(server.client.certFile),
      privateKey: readFileSync(server.client.keyFile),
    },
  });
  try {
    await admin.role('root').create();
    await (await admin.user('root').create('root-pw-for-the-test')).addRole('root');
    await (await admin.role('clusterseed-rw').create()).grant({ permission: 'Readwrite', range: admin.range({ prefix: 'clusterseed/' }) });
    await (await admin.user('app').create(PASSWORD)).addRole('clusterseed-rw');
    await (await admin.role('elsewhere').create()).grant({ permission: 'Readwrite', range: admin.range({ prefix: 'elsewhere/' }) });
    await (await admin.user('nobody').create(NOBODY_PASSWORD)).addRole('elsewhere');
    await admin.auth.authEnable();
  } finally {
    admin.close();
  }
}

afterAll(async () => {
  await other?.cleanup();
  await etcd?.stop();
});

const tlsOptions = () => ({ caFile: etcd.pki.caFile, certFile: etcd.client.certFile, keyFile: etcd.client.keyFile });
const good = () => ({ method: 'etcd', endpoints: [etcd.endpoint], ...tlsOptions(), username: 'app', password: PASSWORD });

function expectNoSecret(err: unknown): void {
  const texts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    texts.push(String((e as Error).message), String((e as ClusterseedError).hint ?? ''), String((e as Error).stack ?? ''));
  }
  texts.push(describeError(err), JSON.stringify(err));
  for (const t of texts) {
    expect(t).not.toContain(PASSWORD);
    expect(t).not.toContain(NOBODY_PASSWORD);
    expect(t).not.toContain('PRIVATE KEY');
  }
}

/** One lookup through a fresh provider: its error (or undefined) and how long it took. */
async function lookup(
  discovery: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<{ err: ClusterseedError | undefined; elapsed: number; points?: unknown[] }> {
  const started = performance.now();
  let provider: DiscoveryProvider | undefined;
  try {
    provider = await createDiscovery(discovery as never, { env, timeoutMs: TIMEOUT_MS });
    const points = await provider.resolve({ service }, { timeoutMs: TIMEOUT_MS });
    return { err: undefined, elapsed: performance.now() - started, points };
  } catch (err) {
    return { err: err as ClusterseedError, elapsed: performance.now() - started };
  } finally {
    await provider?.close();
  }
}

describe('etcd over mutual TLS with authentication', () => {
  it('registers and resolves with caFile/certFile/keyFile and username/password', async () => {
    const provider = (await createDiscovery(good() as never, { timeoutMs: TIMEOUT_MS })) as RegistryProvider;
    try {
      const registration = await provider.register({ host: '127.0.0.1', port: 25520 }, { service });
      expect(await provider.resolve({ service })).toEqual([{ host: '127.0.0.1', port: 25520 }]);
      await registration.close();
      expect(await provider.resolve({ service })).toEqual([]);
      await provider.register({ host: '127.0.0.1', port: 25521 }, { service });
    } finally {
      // The second registration stays for the next test until the lease is revoked below.
    }
    const viaEnv = await lookup(
      { method: 'etcd' },
      {
        // host:port without a scheme means https:// when TLS files are given, as with etcdctl.
        ETCDCTL_ENDPOINTS: `${etcd.endpoint.replace('https://', '')}, ${etcd.endpoint}`,
        ETCDCTL_CACERT: etcd.pki.caFile,
        ETCDCTL_CERT: etcd.client.certFile,
        ETCDCTL_KEY: etcd.client.keyFile,
        ETCDCTL_USER: `app:${PASSWORD}`,
      },
    );
    expect(viaEnv.err).toBeUndefined();
    expect(viaEnv.points).toEqual([{ host: '127.0.0.1', port: 25521 }]);
    await provider.close();
    expect((await lookup(good())).points).toEqual([]);
  });

  it('options win over ETCDCTL_* variables', async () => {
    const r = await lookup(good(), {
      ETCDCTL_ENDPOINTS: 'https://127.0.0.1:1',
      ETCDCTL_CACERT: other.caFile,
      ETCDCTL_USER: 'nobody:x',
    });
    expect(r.err).toBeUndefined();
  });

  it('a wrong CA: a non-retriable DiscoveryError that says TLS and why, within the timeout', async () => {
    const r = await lookup({ ...good(), caFile: other.caFile });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_DISCOVERY', retriable: false });
    expect(r.err!.message).toMatch(/TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed: the server certificate is not signed by the trusted CA/);
    expect(r.err!.message).toContain('discovery.caFile');
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('a wrong CA given through ETCDCTL_CACERT names the variable', async () => {
    const r = await lookup(
      { method: 'etcd' },
      {
        ETCDCTL_ENDPOINTS: etcd.endpoint,
        ETCDCTL_CACERT: other.caFile,
        ETCDCTL_CERT: etcd.client.certFile,
        ETCDCTL_KEY: etcd.client.keyFile,
        ETCDCTL_USER: `app:${PASSWORD}`,
      },
    );
    expect(r.err?.code).toBe('CLUSTERSEED_E_DISCOVERY');
    expect(r.err!.message).toMatch(/TLS.*ETCDCTL_CACERT/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('no caFile: the server is verified against the system CAs, which do not know it', async () => {
    const r = await lookup({ method: 'etcd', endpoints: [etcd.endpoint], username: 'app', password: PASSWORD });
    expect(r.err?.code).toBe('CLUSTERSEED_E_DISCOVERY');
    expect(r.err!.message).toMatch(/TLS handshake .* failed: .*verified against the system CAs/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('a missing client certificate: an AuthError that says TLS and that etcd requires one', async () => {
    const r = await lookup({ method: 'etcd', endpoints: [etcd.endpoint], caFile: etcd.pki.caFile, username: 'app', password: PASSWORD });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH', retriable: false });
    expect(r.err!.message).toMatch(/TLS handshake .* failed: the server requires a client certificate and none is configured/);
    expect(r.err!.hint).toMatch(/certFile and keyFile/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('an expired client certificate: an AuthError that says TLS and when it expired', async () => {
    const r = await lookup({ ...good(), certFile: expired.certFile, keyFile: expired.keyFile });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(r.err!.message).toMatch(/TLS handshake .* failed: the server refused the client certificate discovery\.certFile: it expired on \d{4}-/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('a client certificate from another CA: an AuthError naming the trusted CA as the likely cause', async () => {
    const stranger = await other.issue('stranger', { usage: 'client' });
    const r = await lookup({ ...good(), ...stranger });
    expect(r.err?.code).toBe('CLUSTERSEED_E_AUTH');
    expect(r.err!.message).toMatch(/TLS handshake .* refused the client certificate .*--trusted-ca-file/);
    expectNoSecret(r.err);
  });

  it('a user without permission on the prefix: an AuthError whose hint names the role permission', async () => {
    const r = await lookup({ ...good(), username: 'nobody', password: NOBODY_PASSWORD });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH', retriable: false });
    expect(r.err!.message).toMatch(/permission denied for user "nobody"/);
    expect(r.err!.hint).toContain('etcdctl role grant-permission <role> --prefix=true readwrite clusterseed/');
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it('a wrong password: an AuthError that never shows it', async () => {
    const r = await lookup({ ...good(), password: `${PASSWORD}-wrong` });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(r.err!.message).toMatch(/authentication failed for user "app"/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
    const viaEnv = await lookup({ method: 'etcd', endpoints: [etcd.endpoint], ...tlsOptions() }, { ETCDCTL_USER: `app:${PASSWORD}-wrong` });
    expect(viaEnv.err!.message).toMatch(/authentication failed for user "app" \(ETCDCTL_USER\)/);
    expect(viaEnv.err!.hint).toContain('ETCDCTL_USER');
    expectNoSecret(viaEnv.err);
  });

  it("no user while authentication is on: etcd takes the client certificate's CN as the user; an AuthError naming it", async () => {
    const r = await lookup({ method: 'etcd', endpoints: [etcd.endpoint], ...tlsOptions() });
    expect(r.err?.code).toBe('CLUSTERSEED_E_AUTH');
    expect(r.err!.message).toMatch(/permission denied for user "clusterseed-test-client" \(the CN of discovery\.certFile; no username is configured\)/);
    expect(r.err!.hint).toMatch(/or set discovery\.username and discovery\.password/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('registration by a user without permission is an AuthError too', async () => {
    const provider = (await createDiscovery({ ...good(), username: 'nobody', password: NOBODY_PASSWORD } as never, {
      timeoutMs: TIMEOUT_MS,
    })) as RegistryProvider;
    try {
      const err = await provider.register({ host: '127.0.0.1', port: 25530 }, { service, signal: AbortSignal.timeout(TIMEOUT_MS) }).then(
        () => undefined,
        (e: unknown) => e as ClusterseedError,
      );
      expect(err?.code).toBe('CLUSTERSEED_E_AUTH');
      expectNoSecret(err);
    } finally {
      await provider.close();
    }
  });

  it('plain http:// to the TLS-only server: a DiscoveryError that says to use https://, within the timeout', async () => {
    const r = await lookup({ method: 'etcd', endpoints: [etcd.endpoint.replace('https://', 'http://')], username: 'app', password: PASSWORD });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_DISCOVERY', retriable: false });
    expect(r.err!.message).toMatch(/answers with TLS but the endpoint is http:\/\/; use https:\/\//);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(r.err);
  });

  it.each([
    ['a wrong CA', () => ({ caFile: other.caFile }), 'CLUSTERSEED_E_DISCOVERY'],
    ['an expired client certificate', () => ({ certFile: expired.certFile, keyFile: expired.keyFile }), 'CLUSTERSEED_E_AUTH'],
    ['a user without permission', () => ({ username: 'nobody', password: NOBODY_PASSWORD }), 'CLUSTERSEED_E_AUTH'],
  ])('bootstrap() with %s fails at once, not at its deadline', async (_name, change, code) => {
    const started = performance.now();
    const err = await bootstrap({
      service: uniqueService('etcd-tls-fail'),
      discovery: { ...good(), ...change() } as never,
      bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 20_000 },
      management: { host: '127.0.0.1', port: 0 },
      self: { host: '127.0.0.1' },
      join: async () => {},
    }).then(
      async (n) => {
        await n.close();
        return undefined;
      },
      (e: unknown) => e as ClusterseedError,
    );
    expect(err?.code).toBe(code);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expectNoSecret(err);
  });

  it('the lock strategy works over TLS: one bootstrap forms the cluster, and its member entry can be removed', async () => {
    const lockService = uniqueService('etcd-tls-lock');
    const node = await bootstrap({
      service: lockService,
      discovery: good() as never,
      bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 30_000 },
      management: { host: '127.0.0.1', port: 0 },
      self: { host: '127.0.0.1' },
      join: async () => {},
    });
    try {
      expect(node.result).toMatchObject({ strategy: 'lock', formedNewCluster: true });
      expect(node.result.seeds).toEqual([node.result.self]);
      const check = await createDiscovery(good() as never);
      try {
        expect(await check.resolve({ service: lockService })).toEqual([node.result.self]);
        // A member entry (what the record watch removes on a conflict) is put and deleted over TLS.
        const lock = (check as unknown as { seedLock(): SeedLock }).seedLock();
        const other = { host: '127.0.0.1', port: 25599 };
        await lock.addMember(other, { service: lockService });
        expect((await lock.readRecord({ service: lockService })).members).toContainEqual(other);
        await lock.removeMember(other, { service: lockService });
        expect((await lock.readRecord({ service: lockService })).members).not.toContainEqual(other);
      } finally {
        await check.close();
      }
    } finally {
      await node.close();
    }
    expect((await lookup({ ...good() })).points).toEqual([]);
  });
});

describe('etcd with server TLS only (no --client-cert-auth) and authentication', () => {
  let serverOnly: TlsEtcd;
  beforeAll(async () => {
    serverOnly = await startTlsEtcd({ clientCertAuth: false });
    await enableAuth(serverOnly);
  }, 120_000);
  afterAll(() => serverOnly?.stop());

  it('caFile alone verifies the server; the user signs in with its password', async () => {
    const r = await lookup({ method: 'etcd', endpoints: [serverOnly.endpoint], caFile: serverOnly.pki.caFile, username: 'app', password: PASSWORD });
    expect(r.err).toBeUndefined();
    expect(r.points).toEqual([]);
  });

  it('no user while authentication is on: an AuthError saying so', async () => {
    const r = await lookup({ method: 'etcd', endpoints: [serverOnly.endpoint] }, { ETCDCTL_CACERT: serverOnly.pki.caFile });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(r.err!.message).toMatch(/etcd requires authentication and no user is configured/);
    expect(r.err!.hint).toMatch(/ETCDCTL_USER=user:password/);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('a user given to an etcd without authentication', () => {
  it('is an AuthError saying authentication is not enabled', async () => {
    const { etcd: plain } = await getTestServers();
    const r = await lookup({ method: 'etcd', endpoints: [plain] }, { ETCDCTL_USER: `app:${PASSWORD}` });
    expect(r.err).toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(r.err!.message).toMatch(/a user is configured \(ETCDCTL_USER\) but authentication is not enabled/);
    expectNoSecret(r.err);
  });
});

describe('ETCDCTL_* settings are checked at start-up, before any connection', () => {
  let listener: net.Server;
  let connections = 0;
  let endpoint: string;
  let notPem: string;
  beforeAll(async () => {
    notPem = path.join(etcd.pki.dir, 'not-pem.txt');
    await writeFile(notPem, 'this is no certificate\n');
    listener = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    endpoint = `https://127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => listener.close(() => r())));

  const cases: [string, () => Record<string, unknown>, () => Record<string, string>, RegExp][] = [
    [
      'ETCDCTL_CACERT naming a missing file',
      () => ({ method: 'etcd', endpoints: [endpoint] }),
      () => ({ ETCDCTL_CACERT: '/nonexistent/ca.pem' }),
      /^ETCDCTL_CACERT: file "\/nonexistent\/ca.pem" does not exist$/,
    ],
    [
      'ETCDCTL_CERT without ETCDCTL_KEY',
      () => ({ method: 'etcd', endpoints: [endpoint] }),
      () => ({ ETCDCTL_CERT: etcd.client.certFile }),
      /^ETCDCTL_KEY: required when ETCDCTL_CERT is set/,
    ],
    [
      'ETCDCTL_KEY naming a directory',
      () => ({ method: 'etcd', endpoints: [endpoint] }),
      () => ({ ETCDCTL_CERT: etcd.client.certFile, ETCDCTL_KEY: '/tmp' }),
      /^ETCDCTL_KEY: "\/tmp" is not a regular file$/,
    ],
    [
      'ETCDCTL_USER without a password',
      () => ({ method: 'etcd', endpoints: [endpoint] }),
      () => ({ ETCDCTL_USER: 'app' }),
      /^ETCDCTL_USER: expected user:password \(the value is not shown\)$/,
    ],
    ['no endpoints anywhere', () => ({ method: 'etcd' }), () => ({}), /^discovery\.endpoints: required \(or set ETCDCTL_ENDPOINTS\)$/],
    [
      'ETCDCTL_ENDPOINTS mixing http and https',
      () => ({ method: 'etcd' }),
      () => ({ ETCDCTL_ENDPOINTS: `${endpoint},http://127.0.0.1:2379` }),
      /^ETCDCTL_ENDPOINTS: mixes http:\/\/ and https:\/\/ endpoints/,
    ],
    [
      'ETCDCTL_ENDPOINTS with another scheme',
      () => ({ method: 'etcd' }),
      () => ({ ETCDCTL_ENDPOINTS: 'unix:///run/etcd.sock' }),
      /^ETCDCTL_ENDPOINTS: expected http:\/\/host:port/,
    ],
    [
      'ETCDCTL_CACERT with http:// endpoints',
      () => ({ method: 'etcd', endpoints: ['http://127.0.0.1:2379'] }),
      () => ({ ETCDCTL_CACERT: etcd.pki.caFile }),
      /^ETCDCTL_CACERT: TLS files are set but the endpoints are http:\/\//,
    ],
    [
      'a caFile that is not PEM',
      () => ({ method: 'etcd', endpoints: [endpoint], caFile: notPem }),
      () => ({}),
      /^discovery\.caFile: ".*not-pem.txt" is not a PEM CA certificate \(bundle\) \(no BEGIN CERTIFICATE line\)$/,
    ],
    [
      'a key that does not match its certificate',
      () => ({ method: 'etcd', endpoints: [endpoint], certFile: etcd.client.certFile, keyFile: expired.keyFile }),
      () => ({}),
      /^discovery\.keyFile: .* is not the PEM private key of discovery\.certFile/,
    ],
  ];
  it.each(cases)('%s is a ConfigError', async (_name, discovery, env, message) => {
    const err = await createDiscovery(discovery() as never, { env: env() }).then(
      async (p) => {
        await p.close();
        return undefined;
      },
      (e: unknown) => e as ClusterseedError,
    );
    expect(err?.code).toBe('CLUSTERSEED_E_CONFIG');
    expect(err!.message).toMatch(message);
    expect(connections).toBe(0);
  });

  it('the password of ETCDCTL_USER is never shown, even when the value is malformed', async () => {
    const err = await createDiscovery({ method: 'etcd', endpoints: [endpoint] } as never, { env: { ETCDCTL_USER: `${PASSWORD}:` } }).then(
      () => undefined,
      (e: unknown) => e as ClusterseedError,
    );
    expect(err?.code).toBe('CLUSTERSEED_E_CONFIG');
    expectNoSecret(err);
  });
});

describe('the CLI (dist/) with etcd over TLS', () => {
  const cliPath = path.resolve('dist/src/cli/main.js');
  async function cli(args: string[], env: Record<string, string>) {
    if (!existsSync(cliPath)) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
    const started = performance.now();
    const r = await promisify(execFile)(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }).then(
      (out) => ({ code: 0, ...out }),
      (e: { code?: number; stdout: string; stderr: string }) => ({ code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr }),
    );
    return { ...r, elapsed: performance.now() - started };
  }
  const tlsEnv = () => ({
    ETCDCTL_ENDPOINTS: etcd.endpoint,
    ETCDCTL_CACERT: etcd.pki.caFile,
    ETCDCTL_CERT: etcd.client.certFile,
    ETCDCTL_KEY: etcd.client.keyFile,
    ETCDCTL_USER: `app:${PASSWORD}`,
  });
  /** grpc-js sets the TLS ServerName to the endpoint's IP, and Node warns about it once per process. */
  const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '' && !/DEP0123|--trace-deprecation/.test(l));

  it('resolves with only ETCDCTL_* in the environment, and exits', async () => {
    const r = await cli(
      ['resolve', '--service', uniqueService('cli'), '--discovery', 'method=etcd', '--format', 'json', '--timeout', String(TIMEOUT_MS)],
      tlsEnv(),
    );
    expect(errorLines(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ method: 'etcd', contactPoints: [] });
  });

  it('an ETCDCTL_CACERT that does not exist: exit 2, one line, before any connection', async () => {
    let connections = 0;
    const listener = net.createServer((sock) => {
      connections++;
      sock.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const port = (listener.address() as net.AddressInfo).port;
      const r = await cli(['resolve', '--service', 'x', '--discovery', 'method=etcd'], {
        ...tlsEnv(),
        ETCDCTL_ENDPOINTS: `https://127.0.0.1:${port}`,
        ETCDCTL_CACERT: '/nonexistent/ca.pem',
      });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual(['clusterseed: ETCDCTL_CACERT: file "/nonexistent/ca.pem" does not exist — fix or unset ETCDCTL_CACERT']);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((r) => listener.close(() => r()));
    }
  });

  it('a wrong CA: exit 1 with one line that says TLS and why, within the timeout, without the password', async () => {
    const r = await cli(['resolve', '--service', 'x', '--discovery', 'method=etcd', '--timeout', String(TIMEOUT_MS)], {
      ...tlsEnv(),
      ETCDCTL_CACERT: other.caFile,
    });
    expect(r.code).toBe(1);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^clusterseed: etcd: reading .*: TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed: the server certificate is not signed by the trusted CA/,
    );
    expect(r.stderr).not.toContain(PASSWORD);
    expect(r.elapsed).toBeLessThan(TIMEOUT_MS + 5000);
  });
});

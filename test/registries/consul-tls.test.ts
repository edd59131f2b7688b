import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import consulPkg from 'consul';
import { systemClock } from '../../src/clock.js';
import { ConfigError, DiscoveryError, type ClusterseedError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { bootstrap, type BootstrapNode } from '../../src/index.js';
import { createDiscovery } from '../../src/registry.js';
import type { DiscoveryProvider, RegistryProvider } from '../../src/types.js';
import { ConsulOptions } from '../../providers/consul/options.js';
import { startConsulEmulator, type ConsulEmulator, type EmulatorTls } from '../emulators/consul/server.js';
import { makePki, type Issued, type Pki } from '../fixtures/pki.js';
import { recordingLogger } from './consul-helpers.js';

/*
 * The consul provider over HTTPS against the emulator served with a test CA (test/fixtures/pki.ts):
 * server verification against caFile / CONSUL_CACERT, mutual TLS (the emulator requiring a client
 * certificate, like Consul's verify_incoming), tlsServerName, the environment-only configuration,
 * and the files checked before any connection. The npm `consul` client is shown to talk to the
 * same HTTPS emulator, so its TLS is real TLS.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Consul = ((consulPkg as any).Consul ?? consulPkg) as new (o: object) => any;

let pki: Pki;
let otherPki: Pki;
let server: Issued;
let dnsOnlyServer: Issued;
let client: Issued;
let strangerClient: Issued;
let expiredServer: Issued;
const emulators: ConsulEmulator[] = [];
const providers: DiscoveryProvider[] = [];
const TOKEN = 'secret-acl-token-5f1e';

beforeAll(async () => {
  pki = await makePki('consul-test-ca');
  otherPki = await makePki('someone-else-ca');
  [server, dnsOnlyServer, client, strangerClient, expiredServer] = await Promise.all([
    pki.issue('consul-agent', { usage: 'server' }),
    pki.issue('consul-agent-dns', { usage: 'server', sans: ['DNS:consul.service.test'] }),
    pki.issue('app', { usage: 'client' }),
    otherPki.issue('stranger', { usage: 'client' }),
    pki.issue('consul-agent-old', { usage: 'server', expired: true }),
  ]);
});
afterAll(async () => {
  await pki.cleanup();
  await otherPki.cleanup();
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close?.()));
  await Promise.all(emulators.splice(0).map((e) => e.stop()));
});

async function emulator(tls?: EmulatorTls): Promise<ConsulEmulator> {
  const emu = await startConsulEmulator(tls ? { tls } : {});
  emulators.push(emu);
  emu.state.registerService(emu.state.agentNode, { Name: 'api', ID: 'api-1', Address: '10.0.0.7', Port: 7626 }, [{ TTL: '1h', Status: 'passing' }]);
  return emu;
}

const mtls = (): EmulatorTls => ({ ...server, caFile: pki.caFile, requestCert: true, rejectUnauthorized: true });

async function provider(discovery: Record<string, unknown>, env: Record<string, string> = {}, logger = silentLogger): Promise<RegistryProvider> {
  const p = await createDiscovery({ method: 'consul', ...discovery }, { env, logger, clock: systemClock, timeoutMs: 5000 });
  providers.push(p);
  return p as RegistryProvider;
}

async function failure(promise: Promise<unknown>): Promise<ClusterseedError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) throw new Error('expected a failure');
  return err as ClusterseedError;
}

describe('consul over HTTPS', () => {
  it('verifies the agent against caFile: resolve and register over TLS', async () => {
    const emu = await emulator(server);
    const p = await provider({ host: '127.0.0.1', port: emu.port, secure: true, caFile: pki.caFile, token: TOKEN });
    expect(await p.resolve({ service: 'api' })).toEqual([expect.objectContaining({ host: '10.0.0.7', port: 7626 })]);
    const registration = await p.register({ host: '10.0.0.8', port: 7626 }, { service: 'api' });
    expect([...emu.state.services.values()].map((s) => s.ID)).toContain('clusterseed-api-10.0.0.8:7626');
    await registration.close();
    expect([...emu.state.services.values()].map((s) => s.ID)).not.toContain('clusterseed-api-10.0.0.8:7626');
    expect(emu.tlsFailures).toEqual([]);
  });

  it('a TLS option alone means https (a CA for plain http would go unused)', async () => {
    const emu = await emulator(server);
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile });
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
  });

  it('keeps blocking queries and keep-alive connections over TLS (a lock bootstrap watch needs them)', async () => {
    const emu = await emulator(server);
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile });
    // Several calls in a row reuse the TLS connection instead of a handshake each.
    for (let i = 0; i < 5; i++) await p.resolve({ service: 'api' });
    expect(emu.count('/v1/health/service/api')).toBe(5);
  });

  it('with a wrong CA: a typed, non-retriable DiscoveryError that says TLS and why, no token in it', async () => {
    const emu = await emulator(server);
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: otherPki.caFile, token: TOKEN });
    const started = Date.now();
    const err = await failure(p.resolve({ service: 'api' }));
    expect(Date.now() - started).toBeLessThan(4000);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/TLS with https:\/\/127\.0\.0\.1:\d+ failed: .*unknown CA/);
    expect(err.hint).toContain(otherPki.caFile);
    expect(`${err.message} ${err.hint}`).not.toContain(TOKEN);
  });

  it('without caFile the system CAs do not know the test CA', async () => {
    const emu = await emulator(server);
    const p = await provider({ host: '127.0.0.1', port: emu.port, secure: true });
    const err = await failure(p.resolve({ service: 'api' }));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS .* failed: .*(unknown CA|self-signed)/);
    expect(err.hint).toMatch(/system CAs/);
  });

  it('an expired agent certificate fails typed', async () => {
    const emu = await emulator(expiredServer);
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile });
    const err = await failure(p.resolve({ service: 'api' }));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS .* failed: the agent certificate has expired \(CERT_HAS_EXPIRED\)/);
  });

  it('tlsServerName: an agent dialled by IP with a certificate for a DNS name', async () => {
    const emu = await emulator(dnsOnlyServer);
    const byIp = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile });
    const err = await failure(byIp.resolve({ service: 'api' }));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS .* failed: hostname mismatch.*tlsServerName/);
    const named = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, tlsServerName: 'consul.service.test' });
    expect(await named.resolve({ service: 'api' })).toHaveLength(1);
    const wrongName = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, tlsServerName: 'other.service.test' });
    expect((await failure(wrongName.resolve({ service: 'api' }))).message).toMatch(/hostname mismatch/);
  });

  it('a TLS client against a plain-http agent, and a plain client against an HTTPS agent, say so', async () => {
    const plain = await emulator();
    const tlsClient = await provider({ host: '127.0.0.1', port: plain.port, caFile: pki.caFile });
    const err = await failure(tlsClient.resolve({ service: 'api' }));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS .* failed: .*(does not speak TLS|handshake)/);
    const secure = await emulator(server);
    const plainClient = await provider({ host: '127.0.0.1', port: secure.port });
    const err2 = await failure(plainClient.resolve({ service: 'api' }));
    expect(err2).toBeInstanceOf(DiscoveryError);
    expect(err2.hint).toMatch(/serves HTTPS, set secure/);
  });
});

describe('consul with mutual TLS (the agent requires a client certificate)', () => {
  it('works with certFile and keyFile, and the agent sees the client certificate', async () => {
    const emu = await emulator(mtls());
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, ...client });
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
    expect(emu.requests.map((r) => r.clientCert)).toEqual(['app']);
  });

  it('without a client certificate: a typed DiscoveryError that says TLS and that one is required', async () => {
    const emu = await emulator(mtls());
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, token: TOKEN });
    const started = Date.now();
    const err = await failure(p.resolve({ service: 'api' }));
    expect(Date.now() - started).toBeLessThan(4000);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.retriable).toBe(false);
    expect(err.message).toMatch(/TLS with .* failed: .*(client certificate|handshake)/);
    expect(err.hint).toMatch(/no client certificate is presented/);
    expect(`${err.message} ${err.hint}`).not.toContain(TOKEN);
    expect(emu.requests).toEqual([]);
  });

  it('a client certificate from another CA is refused, typed', async () => {
    const emu = await emulator(mtls());
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, ...strangerClient });
    const err = await failure(p.resolve({ service: 'api' }));
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS with .* failed: .*(does not trust the client certificate|refused the client certificate)/);
    expect(emu.requests).toEqual([]);
  });
});

describe("consul TLS from Consul's own environment variables", () => {
  it('CONSUL_HTTP_ADDR https://, CONSUL_CACERT, CONSUL_CLIENT_CERT/KEY and CONSUL_TLS_SERVER_NAME alone', async () => {
    const emu = await emulator({ ...dnsOnlyServer, caFile: pki.caFile, requestCert: true, rejectUnauthorized: true });
    const env = {
      CONSUL_HTTP_ADDR: `https://127.0.0.1:${emu.port}`,
      CONSUL_CACERT: pki.caFile,
      CONSUL_CLIENT_CERT: client.certFile,
      CONSUL_CLIENT_KEY: client.keyFile,
      CONSUL_TLS_SERVER_NAME: 'consul.service.test',
    };
    const p = await provider({}, env);
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
    expect(emu.requests.map((r) => r.clientCert)).toEqual(['app']);
  });

  it('CONSUL_HTTP_SSL=true turns TLS on for a host:port address', async () => {
    const emu = await emulator(server);
    const p = await provider({}, { CONSUL_HTTP_ADDR: emu.address, CONSUL_HTTP_SSL: 'true', CONSUL_CACERT: pki.caFile });
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
    await expect(provider({}, { CONSUL_HTTP_ADDR: emu.address, CONSUL_HTTP_SSL: 'yes' })).rejects.toThrow(/CONSUL_HTTP_SSL: expected true or false/);
  });

  it('options win over the variables', async () => {
    const emu = await emulator(mtls());
    const env = {
      CONSUL_HTTP_ADDR: 'https://127.0.0.1:1',
      CONSUL_CACERT: otherPki.caFile,
      CONSUL_CLIENT_CERT: strangerClient.certFile,
      CONSUL_CLIENT_KEY: strangerClient.keyFile,
    };
    const p = await provider({ host: '127.0.0.1', port: emu.port, caFile: pki.caFile, ...client }, env);
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
  });

  it('a bad file named by a variable is a ConfigError at start-up, before any connection', async () => {
    const emu = await emulator(server);
    const base = { CONSUL_HTTP_ADDR: `https://${emu.address}` };
    const missing = path.join(pki.dir, 'nope.crt');
    const notPem = path.join(pki.dir, 'not-pem.crt');
    await writeFile(notPem, 'hello\n');
    const cases: [Record<string, string>, RegExp][] = [
      [{ CONSUL_CACERT: missing }, /^CONSUL_CACERT: file ".*nope\.crt" does not exist$/],
      [{ CONSUL_CACERT: notPem }, /^CONSUL_CACERT: ".*not-pem\.crt" holds no PEM certificate/],
      [{ CONSUL_CLIENT_CERT: client.certFile }, /^CONSUL_CLIENT_KEY: required with CONSUL_CLIENT_CERT$/],
      [{ CONSUL_CLIENT_KEY: client.keyFile }, /^CONSUL_CLIENT_CERT: required with CONSUL_CLIENT_KEY$/],
      [{ CONSUL_CLIENT_CERT: client.certFile, CONSUL_CLIENT_KEY: missing }, /^CONSUL_CLIENT_KEY: file .* does not exist$/],
      [
        { CONSUL_CLIENT_CERT: client.certFile, CONSUL_CLIENT_KEY: strangerClient.keyFile },
        /^CONSUL_CLIENT_CERT .* cannot be used for TLS: .*key values mismatch/,
      ],
      [{ CONSUL_TLS_SERVER_NAME: '127.0.0.1' }, /^CONSUL_TLS_SERVER_NAME: expected a DNS name/],
    ];
    for (const [env, message] of cases) {
      const err = await failure(provider({}, { ...base, ...env }));
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(message);
    }
    expect(emu.requests).toEqual([]);
    expect(emu.tlsFailures).toEqual([]);
  });

  it("the variables are not read when TLS is off (as in Consul's CLI)", async () => {
    const emu = await emulator();
    const p = await provider({}, { CONSUL_HTTP_ADDR: emu.address, CONSUL_CACERT: path.join(pki.dir, 'nope.crt') });
    expect(await p.resolve({ service: 'api' })).toHaveLength(1);
  });

  it('CONSUL_HTTP_SSL_VERIFY=false is refused in words: verification stays on', async () => {
    const emu = await emulator(server);
    const logger = recordingLogger();
    const p = await provider({}, { CONSUL_HTTP_ADDR: `https://${emu.address}`, CONSUL_HTTP_SSL_VERIFY: 'false' }, logger);
    expect(logger.text()).toMatch(/CONSUL_HTTP_SSL_VERIFY=false is ignored/);
    expect(await failure(p.resolve({ service: 'api' }))).toBeInstanceOf(DiscoveryError);
  });
});

describe('a lock bootstrap over mutual TLS', () => {
  it('3 nodes configured by the environment alone form one cluster (sessions, KV and the watch over TLS)', async () => {
    const emu = await emulator(mtls());
    const env = {
      CONSUL_HTTP_ADDR: `https://${emu.address}`,
      CONSUL_CACERT: pki.caFile,
      CONSUL_CLIENT_CERT: client.certFile,
      CONSUL_CLIENT_KEY: client.keyFile,
    };
    const nodes: BootstrapNode[] = [];
    try {
      const settled = await Promise.allSettled(
        [0, 1, 2].map(() =>
          bootstrap({
            service: 'tls-lock',
            env,
            discovery: { method: 'consul' },
            bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 20_000 },
            management: { host: '127.0.0.1', port: 0 },
            self: { host: '127.0.0.1' },
            join: async () => {},
          }),
        ),
      );
      for (const s of settled) if (s.status === 'fulfilled') nodes.push(s.value);
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
      expect(nodes.filter((n) => n.result.formedNewCluster)).toHaveLength(1);
      expect(new Set(nodes.map((n) => `${n.result.seeds[0]!.host}:${n.result.seeds[0]!.port}`)).size).toBe(1);
      expect(emu.requests.every((r) => r.clientCert === 'app')).toBe(true);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
    expect([...emu.state.services.values()].filter((s) => s.Service === 'tls-lock')).toEqual([]);
    expect(emu.tlsFailures).toEqual([]);
  });

  it('a lock bootstrap without the client certificate fails at once, saying TLS (exit 1 class: not a config error)', async () => {
    const emu = await emulator(mtls());
    const started = Date.now();
    const err = await failure(
      bootstrap({
        service: 'tls-lock',
        env: { CONSUL_HTTP_ADDR: `https://${emu.address}`, CONSUL_CACERT: pki.caFile },
        discovery: { method: 'consul' },
        bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 20_000 },
        management: { host: '127.0.0.1', port: 0 },
        self: { host: '127.0.0.1' },
        join: async () => {},
      }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.message).toMatch(/TLS with https:\/\/127\.0\.0\.1:\d+ failed/);
  });
});

describe('consul TLS options in the schema', () => {
  it('certFile and keyFile go together; the files must exist', () => {
    const parse = (o: Record<string, unknown>) => ConsulOptions.safeParse({ method: 'consul', ...o });
    expect(parse({ caFile: pki.caFile, ...client, tlsServerName: 'consul.service.test' }).success).toBe(true);
    expect(parse({ certFile: client.certFile }).error?.issues).toEqual([
      expect.objectContaining({ path: ['keyFile'], message: 'required with certFile (a client certificate needs its key)' }),
    ]);
    expect(parse({ keyFile: client.keyFile }).error?.issues).toEqual([expect.objectContaining({ path: ['certFile'] })]);
    expect(parse({ caFile: '/nonexistent/ca.pem' }).error?.issues[0]?.message).toBe('file "/nonexistent/ca.pem" does not exist');
    expect(parse({ tlsServerName: '10.0.0.1' }).success).toBe(false);
  });
});

describe('the npm consul client against the HTTPS emulator (the emulator speaks real TLS)', () => {
  it('talks to it with secure + ca, and with a client certificate under mutual TLS', async () => {
    const emu = await emulator(mtls());
    const [ca, cert, key] = await Promise.all([readFile(pki.caFile), readFile(client.certFile), readFile(client.keyFile)]);
    const consul = new Consul({ host: '127.0.0.1', port: emu.port, secure: true, ca, cert, key });
    try {
      await consul.agent.service.register({ name: 'web', id: 'web-1', address: '10.0.0.9', port: 80, check: { ttl: '10s', status: 'passing' } });
      const entries = await consul.health.service({ service: 'web', passing: true });
      expect(entries.map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(['web-1']);
      expect(emu.requests.every((r) => r.clientCert === 'app')).toBe(true);
    } finally {
      consul.destroy();
    }
    const noCert = new Consul({ host: '127.0.0.1', port: emu.port, secure: true, ca });
    try {
      await expect(noCert.health.service({ service: 'web' })).rejects.toThrow();
    } finally {
      noCert.destroy();
    }
    const wrongCa = new Consul({ host: '127.0.0.1', port: emu.port, secure: true, ca: await readFile(otherPki.caFile), cert, key });
    try {
      await expect(wrongCa.health.service({ service: 'web' })).rejects.toThrow(/self[- ]signed|unable to verify|issuer/i);
    } finally {
      wrongCa.destroy();
    }
  });
});

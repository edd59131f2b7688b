import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, type BootstrapNode } from '../../src/bootstrap/index.js';
import { loadManagementTls } from '../../src/bootstrap/tls.js';
import { loadConfig } from '../../src/config/load.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';
import { makePki, type Issued, type Pki } from '../fixtures/pki.js';

/*
 * bootstrap() nodes over management.tls with requireClientCert (DESIGN §3): they form one cluster,
 * the token still applies on top of TLS, a node whose certificate comes from a CA the others do not
 * trust is a failed probe logged with the reason, and bad TLS settings are config errors before
 * anything binds.
 */

let pki: Pki;
let other: Pki;
let dir: string;
beforeAll(async () => {
  [pki, other] = await Promise.all([makePki(), makePki('untrusted-ca')]);
  dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-tls-cluster-'));
});
afterAll(async () => {
  await Promise.all([pki?.cleanup(), other?.cleanup(), dir && rm(dir, { recursive: true, force: true })]);
});

const nodes: BootstrapNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

const fast = {
  discoveryIntervalMs: 100,
  probeIntervalMs: 100,
  probeTimeoutMs: 1000,
  probeFailureWindowMs: 1000,
  stableMarginMs: 600_000,
  bootstrapTimeoutMs: 20_000,
};

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}
function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: unknown, msg?: string) =>
    void lines.push({ level, fields: (fields ?? {}) as Record<string, unknown>, msg: msg ?? '' });
  return { lines, logger: { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') } };
}

let service = 0;
function start(
  host: string,
  cert: Issued,
  caFile: string,
  options: { joined?: ContactPoint[][]; logger?: Logger; token?: string; bootstrap?: Record<string, unknown>; service?: string } = {},
) {
  return bootstrap({
    service: options.service ?? 'orders',
    discovery: { method: 'file', directory: dir },
    bootstrap: { ...fast, expectedContactPoints: 3, ...options.bootstrap },
    management: {
      host,
      port: 0,
      ...(options.token ? { token: options.token } : {}),
      tls: { certFile: cert.certFile, keyFile: cert.keyFile, caFile, requireClientCert: true },
    },
    self: { host },
    join: async (seeds) => void options.joined?.push(seeds),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** GET over HTTPS, verifying against the test CA and presenting `cert` when given. */
function get(host: string, port: number, urlPath: string, cert?: Issued, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host,
      port,
      path: urlPath,
      agent: false,
      ca: readFileSync(pki.caFile),
      headers,
      ...(cert ? { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.end();
  });
}

const issue = (p: Pki, host: string) => p.issue(`node-${host}`, { usage: 'both', sans: [`IP:${host}`] });

describe('bootstrap() over mutual TLS', () => {
  it('three nodes form one cluster; the lowest forms it; the endpoint needs a client certificate and the token', async () => {
    const hosts = ['127.0.0.63', '127.0.0.61', '127.0.0.62'];
    // One at a time: the fixture's CA serial file is not safe for concurrent issuing.
    const certs: Issued[] = [];
    for (const h of hosts) certs.push(await issue(pki, h));
    const joined: ContactPoint[][] = [];
    const svc = `orders-${service++}`;
    const started = await Promise.all(hosts.map((h, i) => start(h, certs[i]!, pki.caFile, { joined, token: 's3cret', service: svc })));
    nodes.push(...started);
    expect(started.map((n) => n.result.seeds[0]!.host)).toEqual(['127.0.0.61', '127.0.0.61', '127.0.0.61']);
    expect(started.filter((n) => n.result.formedNewCluster).map((n) => n.result.self.host)).toEqual(['127.0.0.61']);
    expect(joined).toHaveLength(3);

    const n = started[0]!;
    const port = n.endpoint.port;
    // The decided state over mTLS with the token…
    const seeds = await get('127.0.0.63', port, '/bootstrap/seed-nodes', certs[1], { authorization: 'Bearer s3cret' });
    expect(seeds.status).toBe(200);
    expect((JSON.parse(seeds.body) as { seedNodes: ContactPoint[] }).seedNodes[0]!.host).toBe('127.0.0.61');
    // …without the token 401, /health without it fine…
    expect((await get('127.0.0.63', port, '/bootstrap/seed-nodes', certs[1])).status).toBe(401);
    expect((await get('127.0.0.63', port, '/health', certs[1])).status).toBe(200);
    // …and without a client certificate nothing at all, /health included.
    await expect(get('127.0.0.63', port, '/health')).rejects.toMatchObject({ code: expect.stringMatching(/CERTIFICATE_REQUIRED|ECONNRESET/) });
    // Plain HTTP gets no answer.
    await expect(fetch(`http://127.0.0.63:${port}/health`)).rejects.toThrow();
  }, 30_000);

  it('a node certified by an untrusted CA is a failed probe, logged once with the reason; the others cannot confirm it and do not form', async () => {
    // DESIGN §5.2 step 4: a node forms the cluster only when every discovered point has a fresh
    // observation, so a discovered peer that fails TLS keeps the gate "unconfirmed-contact-points"
    // closed until bootstrapTimeoutMs, as a peer that does not answer at all would.
    const svc = `orders-${service++}`;
    const c1 = await issue(pki, '127.0.0.71');
    const c2 = await issue(pki, '127.0.0.72');
    const c3 = await issue(other, '127.0.0.73');
    const logs = [capture(), capture(), capture()];
    const settings = { bootstrap: { bootstrapTimeoutMs: 3500 }, service: svc };
    const results = await Promise.allSettled([
      start('127.0.0.71', c1, pki.caFile, { ...settings, logger: logs[0]!.logger }),
      start('127.0.0.72', c2, pki.caFile, { ...settings, logger: logs[1]!.logger }),
      start('127.0.0.73', c3, other.caFile, { ...settings, logger: logs[2]!.logger }),
    ]);
    for (const r of results) if (r.status === 'fulfilled') nodes.push(r.value);
    for (const r of results.slice(0, 2)) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toMatchObject({
        code: 'CLUSTERSEED_E_TIMEOUT',
        message: expect.stringContaining('unconfirmed-contact-points'),
      });
    }
    expect(results[2]!.status).toBe('rejected');
    // The lowest node logged the untrusted peer once, with the reason, over dozens of probes.
    const tlsLines = logs[0]!.lines.filter((l) => l.msg.includes('TLS'));
    expect(tlsLines).toHaveLength(1);
    expect(tlsLines[0]!.fields).toMatchObject({
      target: expect.stringMatching(/^127\.0\.0\.73:\d+$/),
      reason: expect.stringMatching(/does not verify.*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED)/),
    });
    // Its trusted peer was never a TLS failure.
    expect(logs[0]!.lines.some((l) => JSON.stringify(l.fields).includes('127.0.0.72') && l.msg.includes('TLS'))).toBe(false);
    // The untrusted node sees both others fail verification, each logged once.
    const strangerTls = logs[2]!.lines
      .filter((l) => l.msg.includes('TLS'))
      .map((l) => String(l.fields.target).split(':')[0])
      .sort();
    expect(strangerTls).toEqual(['127.0.0.71', '127.0.0.72']);
  }, 30_000);

  it('without the untrusted node, the two trusted ones form as quorum allows (expectedContactPoints 2)', async () => {
    const svc = `orders-${service++}`;
    const c1 = await issue(pki, '127.0.0.81');
    const c2 = await issue(pki, '127.0.0.82');
    const started = await Promise.all([
      start('127.0.0.81', c1, pki.caFile, { service: svc, bootstrap: { expectedContactPoints: 2 } }),
      start('127.0.0.82', c2, pki.caFile, { service: svc, bootstrap: { expectedContactPoints: 2 } }),
    ]);
    nodes.push(...started);
    expect(started.map((n) => n.result.seeds[0]!.host)).toEqual(['127.0.0.81', '127.0.0.81']);
    // A late node from another CA cannot join: it confirms no peer (below the quorum of 2, so it
    // does not form alone either) and fails to decide; the cluster is unharmed.
    const c3 = await issue(other, '127.0.0.80');
    const log = capture();
    const late = await start('127.0.0.80', c3, other.caFile, {
      service: svc,
      logger: log.logger,
      bootstrap: { expectedContactPoints: 2, bootstrapTimeoutMs: 2500 },
    }).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT', message: expect.stringContaining('required-contact-points: 1 of 2') });
    expect(log.lines.filter((l) => l.msg.includes('TLS'))).toHaveLength(2);
    expect((await get('127.0.0.81', started[0]!.endpoint.port, '/health', c2)).status).toBe(200);
  }, 30_000);
});

describe('management.tls configuration', () => {
  it('rejects requireClientCert without caFile, and a file that does not exist, naming the key', async () => {
    const cert = await issue(pki, '127.0.0.1');
    const base = { service: 's', discovery: { method: 'static' as const, contactPoints: ['127.0.0.1'] }, self: { host: '127.0.0.1' }, join: async () => {} };
    await expect(
      bootstrap({ ...base, management: { host: '127.0.0.1', port: 0, tls: { certFile: cert.certFile, keyFile: cert.keyFile, requireClientCert: true } } }),
    ).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG', message: expect.stringMatching(/management\.tls\.caFile.*requireClientCert needs caFile/) });
    await expect(
      bootstrap({ ...base, management: { host: '127.0.0.1', port: 0, tls: { certFile: path.join(dir, 'missing.crt'), keyFile: cert.keyFile } } }),
    ).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG', message: expect.stringMatching(/management\.tls\.certFile.*does not exist/) });
    await expect(
      bootstrap({ ...base, management: { host: '127.0.0.1', port: 0, tls: { certFile: cert.certFile, keyFile: cert.keyFile, bogus: 1 } as never } }),
    ).rejects.toMatchObject({ code: 'CLUSTERSEED_E_CONFIG', message: expect.stringContaining('management.tls') });
    // loadConfig (what `config check` runs) rejects the same.
    await expect(
      loadConfig({ env: {}, overrides: { service: 's', management: { tls: { certFile: cert.certFile, keyFile: cert.keyFile, requireClientCert: true } } } }),
    ).rejects.toThrow(/management\.tls\.caFile/);
  });

  it('rejects PEM files that are not what they claim, in the schema (config check) and before the endpoint binds, naming the key', async () => {
    const cert = await issue(pki, '127.0.0.1');
    const otherCert = await issue(pki, '127.0.0.1');
    const serverOnly = await pki.issue('server-only', { usage: 'server', sans: ['IP:127.0.0.1'] });
    const garbage = path.join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a pem file\n');
    const port = 47_000 + Math.floor(Math.random() * 1000);
    const base = { service: 's', discovery: { method: 'static' as const, contactPoints: ['127.0.0.1'] }, self: { host: '127.0.0.1' }, join: async () => {} };
    type Tls = { certFile: string; keyFile: string; caFile?: string; requireClientCert?: boolean };
    const cases: [Tls, RegExp][] = [
      [{ certFile: garbage, keyFile: cert.keyFile }, /management\.tls\.certFile: .* is not a PEM certificate/],
      [{ certFile: cert.certFile, keyFile: garbage }, /management\.tls\.keyFile: .* is not a PEM private key/],
      [{ certFile: cert.certFile, keyFile: otherCert.keyFile }, /management\.tls\.keyFile: .* is not the key of management\.tls\.certFile/],
      [{ certFile: cert.certFile, keyFile: cert.keyFile, caFile: garbage }, /management\.tls\.caFile: .* is not a PEM CA bundle/],
      [
        { certFile: serverOnly.certFile, keyFile: serverOnly.keyFile, caFile: pki.caFile, requireClientCert: true },
        /management\.tls\.certFile: with requireClientCert .*serverAuth and clientAuth.*allows serverAuth/,
      ],
    ];
    for (const [tls, message] of cases) {
      // What `config check` and loadConfig() run…
      await expect(loadConfig({ env: {}, overrides: { service: 's', management: { tls } } })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_CONFIG',
        message: expect.stringMatching(message),
      });
      // …what bootstrap() refuses, before anything binds…
      await expect(bootstrap({ ...base, management: { host: '127.0.0.1', port, tls } })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_CONFIG',
        message: expect.stringMatching(message),
      });
      // …and the start-up loader itself (files that changed after the check).
      expect(() => loadManagementTls({ requireClientCert: false, ...tls })).toThrow(new RegExp(`^${message.source}`));
    }
    expect(() => loadManagementTls({ certFile: path.join(dir, 'gone.crt'), keyFile: cert.keyFile, requireClientCert: false })).toThrow(
      /^management\.tls\.certFile: cannot read .*ENOENT/,
    );
    // Nothing was bound meanwhile: the port is still free.
    const net = await import('node:net');
    await new Promise<void>((resolve, reject) => {
      const s = net
        .createServer()
        .once('error', reject)
        .listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });
});

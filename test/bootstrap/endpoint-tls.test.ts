import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REQUEST_TIMEOUT_MS, startEndpoint, type ManagementEndpoint } from '../../src/bootstrap/endpoint.js';
import { createHttpProbeTransport } from '../../src/bootstrap/prober.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { loadManagementTls, type ManagementTls } from '../../src/bootstrap/tls.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { makePki, type Issued, type Pki } from '../fixtures/pki.js';

/*
 * The management endpoint over HTTPS (DESIGN §3 management.tls, §6): TLS only, the same hardening,
 * mutual TLS refused in the handshake (/health too), and probes that verify the responder.
 */

const state: SeedNodesResponse = { self: { host: '127.0.0.1', port: 7000 }, seedNodes: [], lowest: { host: '127.0.0.1', port: 7000 }, view: 1, members: 0 };

let pki: Pki;
let other: Pki;
let node: Issued;
let serverOnly: Issued;
let stranger: Issued;
let ca: Buffer;
let serverTls: ManagementTls;
let mutualTls: ManagementTls;

beforeAll(async () => {
  [pki, other] = await Promise.all([makePki(), makePki('another-ca')]);
  // One at a time per CA: the fixture's serial file is not safe for concurrent issuing.
  node = await pki.issue('node', { usage: 'both', sans: ['IP:127.0.0.1'] });
  serverOnly = await pki.issue('server-only', { usage: 'server', sans: ['IP:127.0.0.1'] });
  stranger = await other.issue('stranger', { usage: 'both', sans: ['IP:127.0.0.1'] });
  ca = readFileSync(pki.caFile);
  serverTls = loadManagementTls({ certFile: node.certFile, keyFile: node.keyFile, caFile: pki.caFile, requireClientCert: false });
  mutualTls = loadManagementTls({ certFile: node.certFile, keyFile: node.keyFile, caFile: pki.caFile, requireClientCert: true });
});
afterAll(async () => {
  await Promise.all([pki?.cleanup(), other?.cleanup()]);
});

let endpoint: ManagementEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
interface ClientOptions {
  method?: string;
  headers?: Record<string, string>;
  cert?: Issued;
  ca?: Buffer;
}

/** One HTTPS request on a fresh connection, verifying the server against `ca` (the test CA by default). */
function get(port: number, path: string, options: ClientOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      path,
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
      ca: options.ca ?? ca,
      ...(options.cert ? { cert: readFileSync(options.cert.certFile), key: readFileSync(options.cert.keyFile) } : {}),
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.end();
  });
}

/** Raw bytes over a verified TLS connection; resolves with what the server sent before closing (or a full response). */
function rawTls(port: number, request: string | undefined, options: { cert?: Issued } = {}): Promise<{ data: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = tls.connect(
      {
        host: '127.0.0.1',
        port,
        ca,
        ...(options.cert ? { cert: readFileSync(options.cert.certFile), key: readFileSync(options.cert.keyFile) } : {}),
      },
      () => {
        if (request !== undefined) socket.write(request);
      },
    );
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      data += d;
      const head = /\r\n\r\n/.exec(data);
      if (head) {
        const m = /content-length: (\d+)/i.exec(data);
        const body = data.slice(head.index + 4);
        if (!m || body.length >= Number(m[1])) {
          socket.destroy();
          resolve({ data, closedAfterMs: Date.now() - started });
        }
      }
    });
    socket.on('close', () => resolve({ data, closedAfterMs: Date.now() - started }));
    socket.on('error', reject);
  });
}

/** Plain TCP: writes `request` (if any) and collects every byte until the server closes the socket. */
function rawTcp(port: number, request: string | undefined): Promise<{ data: Buffer; error?: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      if (request !== undefined) socket.write(request);
    });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), ...(error ? { error } : {}), closedAfterMs: Date.now() - started }));
  });
}

const start = (t: ManagementTls, extra: { token?: string; report?: () => SeedNodesResponse | undefined } = {}) =>
  startEndpoint({
    host: '127.0.0.1',
    port: 0,
    report: extra.report ?? (() => state),
    logger: silentLogger,
    tls: t,
    ...(extra.token ? { token: extra.token } : {}),
  });

describe('management endpoint over HTTPS', () => {
  it('answers seed-nodes and health, verified against the CA', async () => {
    endpoint = await start(serverTls);
    expect(endpoint.tls).toBe(true);
    const seeds = await get(endpoint.port, '/bootstrap/seed-nodes');
    expect(seeds.status).toBe(200);
    expect(JSON.parse(seeds.body)).toEqual(state);
    const health = await get(endpoint.port, '/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    // A client that does not trust the CA refuses the endpoint: it is not a self-signed free-for-all.
    await expect(get(endpoint.port, '/health', { ca: readFileSync(other.caFile) })).rejects.toMatchObject({
      code: expect.stringMatching(/UNABLE_TO_VERIFY|SELF_SIGNED/),
    });
  });

  it('gives a plain-HTTP request no HTTP answer: the handshake fails and the socket closes', async () => {
    endpoint = await start(serverTls);
    const plain = await rawTcp(endpoint.port, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(plain.data.toString('latin1')).not.toMatch(/HTTP\//);
    expect(plain.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS);
    // The same through an HTTP client: an error, never a response.
    await expect(fetch(`http://127.0.0.1:${endpoint.port}/health`)).rejects.toThrow();
    // And the endpoint still serves TLS clients afterwards.
    expect((await get(endpoint.port, '/health')).status).toBe(200);
  });

  it('keeps the hardening of DESIGN §6 over TLS: 404, 405 Allow: GET, bodies 400, headers over 8 KiB 431', async () => {
    endpoint = await start(serverTls);
    expect((await get(endpoint.port, '/other')).status).toBe(404);
    const post = await get(endpoint.port, '/bootstrap/seed-nodes', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    expect((await rawTls(endpoint.port, 'GET /health HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc')).data).toMatch(/^HTTP\/1.1 400/);
    expect((await rawTls(endpoint.port, 'GET /health HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n')).data).toMatch(/^HTTP\/1.1 400/);
    expect((await rawTls(endpoint.port, `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(9000)}\r\n\r\n`)).data).toMatch(/^HTTP\/1.1 431/);
  });

  it('cuts a slow client: headers not finished, or a handshake never started, within the 5 s limit', async () => {
    endpoint = await start(serverTls);
    const [slowHeaders, noHandshake] = await Promise.all([rawTls(endpoint.port, 'GET /health HTTP/1.1\r\nhost: x\r\n'), rawTcp(endpoint.port, undefined)]);
    expect(slowHeaders.data).toMatch(/^HTTP\/1.1 408/);
    expect(slowHeaders.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(slowHeaders.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000);
    expect(noHandshake.data.toString('latin1')).not.toMatch(/HTTP\//);
    expect(noHandshake.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3000);
  }, 15_000);

  it('keeps the token on top of TLS: seed-nodes needs it, health does not', async () => {
    endpoint = await start(serverTls, { token: 's3cret' });
    expect((await get(endpoint.port, '/bootstrap/seed-nodes')).status).toBe(401);
    expect((await get(endpoint.port, '/bootstrap/seed-nodes', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await get(endpoint.port, '/bootstrap/seed-nodes', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await get(endpoint.port, '/health')).status).toBe(200);
    const withToken = createHttpProbeTransport({ defaultPort: endpoint.port, tls: serverTls, token: 's3cret' });
    const without = createHttpProbeTransport({ defaultPort: endpoint.port, tls: serverTls });
    try {
      const target = { host: '127.0.0.1', port: endpoint.port };
      expect(await withToken.probe(target, { signal: new AbortController().signal })).toEqual(state);
      await expect(without.probe(target, { signal: new AbortController().signal })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    } finally {
      await Promise.all([withToken.close(), without.close()]);
    }
  });
});

describe('mutual TLS (requireClientCert)', () => {
  it('refuses a client without a certificate in the handshake, /health included; serves one with a certificate from the CA', async () => {
    endpoint = await start(mutualTls);
    for (const path of ['/bootstrap/seed-nodes', '/health', '/other']) {
      const err = await get(endpoint.port, path).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err, path).toBeDefined();
      expect(err!.code).toMatch(/^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE|ECONNRESET)$/);
    }
    const ok = await get(endpoint.port, '/bootstrap/seed-nodes', { cert: node });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual(state);
    expect((await get(endpoint.port, '/health', { cert: node })).status).toBe(200);
    expect((await get(endpoint.port, '/other', { cert: node })).status).toBe(404);
  });

  it('refuses a client certificate from another CA, and one without the clientAuth usage', async () => {
    endpoint = await start(mutualTls);
    for (const cert of [stranger, serverOnly]) {
      const err = await get(endpoint.port, '/health', { cert }).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err, cert.certFile).toBeDefined();
      expect(err!.code).toMatch(
        /^(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE|ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE|ECONNRESET)$/,
      );
    }
  });

  it('a plain-HTTP request gets no HTTP answer either', async () => {
    endpoint = await start(mutualTls);
    const plain = await rawTcp(endpoint.port, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(plain.data.toString('latin1')).not.toMatch(/HTTP\//);
  });
});

describe('https probe transport', () => {
  const logs: { level: string; fields: unknown; msg: string | undefined }[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (fields, msg) => void logs.push({ level: 'info', fields, msg }),
    warn: (fields, msg) => void logs.push({ level: 'warn', fields, msg }),
    error: (fields, msg) => void logs.push({ level: 'error', fields, msg }),
  };
  afterEach(() => void logs.splice(0));
  const signal = () => new AbortController().signal;

  it('probes over mTLS, presenting its certificate, and keeps one keep-alive connection', async () => {
    endpoint = await start(mutualTls);
    const transport = createHttpProbeTransport({ defaultPort: endpoint.port, tls: mutualTls, logger });
    // Client sockets to the endpoint port that are ESTABLISHED (state 01) in the kernel's table.
    const portHex = endpoint.port.toString(16).toUpperCase().padStart(4, '0');
    const established = () =>
      readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => {
          const f = l.trim().split(/\s+/);
          return f[2]?.endsWith(`:${portHex}`) && f[3] === '01';
        }).length;
    try {
      for (let i = 0; i < 10; i++) expect(await transport.probe({ host: '127.0.0.1' }, { signal: signal() })).toEqual(state);
      expect(established()).toBe(1);
    } finally {
      await transport.close();
    }
    for (let i = 0; i < 100 && established() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(established()).toBe(0);
    expect(logs).toEqual([]);
  });

  it('a responder from an untrusted CA is a failed probe saying TLS and why, logged once per peer', async () => {
    const strangerTls = loadManagementTls({ certFile: stranger.certFile, keyFile: stranger.keyFile, caFile: other.caFile, requireClientCert: false });
    endpoint = await start(strangerTls);
    const transport = createHttpProbeTransport({ defaultPort: endpoint.port, tls: serverTls, logger });
    try {
      for (let i = 0; i < 3; i++) {
        await expect(transport.probe({ host: '127.0.0.1', port: endpoint.port }, { signal: signal() })).rejects.toMatchObject({
          code: 'CLUSTERSEED_E_DISCOVERY',
          message: expect.stringMatching(/TLS: the peer's certificate does not verify: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED)/),
          hint: expect.stringContaining('management.tls.caFile'),
        });
      }
    } finally {
      await transport.close();
    }
    const warned = logs.filter((l) => l.level === 'warn');
    expect(warned).toHaveLength(1);
    expect(warned[0]!.fields).toMatchObject({ target: `127.0.0.1:${endpoint.port}`, reason: expect.stringContaining('does not verify') });
  });

  it('a responder that refuses our client certificate, or whose certificate names another address, is a failed TLS probe', async () => {
    endpoint = await start(mutualTls);
    const strangerTls = loadManagementTls({ certFile: stranger.certFile, keyFile: stranger.keyFile, caFile: pki.caFile, requireClientCert: false });
    const refused = createHttpProbeTransport({ defaultPort: endpoint.port, tls: strangerTls, logger });
    const wrongName = await pki.issue('elsewhere', { usage: 'both', sans: ['IP:10.9.9.9'] });
    const misnamedTls = loadManagementTls({ certFile: wrongName.certFile, keyFile: wrongName.keyFile, caFile: pki.caFile, requireClientCert: false });
    const misnamed = await start(misnamedTls);
    const verifying = createHttpProbeTransport({ defaultPort: misnamed.port, tls: serverTls, logger });
    try {
      await expect(refused.probe({ host: '127.0.0.1', port: endpoint.port }, { signal: signal() })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_DISCOVERY',
        message: expect.stringMatching(/TLS: .*(refused|closed the connection)/),
      });
      await expect(verifying.probe({ host: '127.0.0.1', port: misnamed.port }, { signal: signal() })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_DISCOVERY',
        message: expect.stringMatching(/TLS: the peer's certificate does not verify: .*ERR_TLS_CERT_ALTNAME_INVALID/),
      });
    } finally {
      await Promise.all([refused.close(), verifying.close(), misnamed.close()]);
    }
    expect(logs.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('a responder with an expired certificate is a failed TLS probe that says so', async () => {
    const old = await pki.issue('old', { usage: 'both', sans: ['IP:127.0.0.1'], expired: true });
    endpoint = await start(loadManagementTls({ certFile: old.certFile, keyFile: old.keyFile, caFile: pki.caFile, requireClientCert: false }));
    const transport = createHttpProbeTransport({ defaultPort: endpoint.port, tls: serverTls, logger });
    try {
      await expect(transport.probe({ host: '127.0.0.1', port: endpoint.port }, { signal: signal() })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_DISCOVERY',
        message: expect.stringMatching(/TLS: the peer's certificate does not verify: certificate has expired \(CERT_HAS_EXPIRED\)/),
      });
    } finally {
      await transport.close();
    }
  });

  it('a peer speaking plain HTTP is a failed TLS probe that says so', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => state, logger: silentLogger });
    const transport = createHttpProbeTransport({ defaultPort: endpoint.port, tls: serverTls, logger });
    try {
      await expect(transport.probe({ host: '127.0.0.1', port: endpoint.port }, { signal: signal() })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_DISCOVERY',
        message: expect.stringContaining('does not speak TLS'),
        hint: expect.stringContaining('same scheme'),
      });
    } finally {
      await transport.close();
    }
  });
});

describe('docs/configuration.md, "A CA and node certificates for a trial"', () => {
  it('its openssl commands make a CA and a node certificate that mutual TLS accepts in both roles', async () => {
    const doc = readFileSync(path.join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### A CA and node certificates for a trial'));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => !b.startsWith('curl'));
    expect(blocks).toHaveLength(2);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-doc-pki-'));
    try {
      // The documented addresses, made local.
      const script = blocks.join('\n').replaceAll('10.0.1.5', '127.0.0.1');
      execFileSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, stdio: 'pipe' });
      const t = loadManagementTls({
        certFile: path.join(dir, 'node-1.crt'),
        keyFile: path.join(dir, 'node-1.key'),
        caFile: path.join(dir, 'ca.crt'),
        requireClientCert: true,
      });
      endpoint = await start(t);
      const transport = createHttpProbeTransport({ defaultPort: endpoint.port, tls: t });
      try {
        expect(await transport.probe({ host: '127.0.0.1' }, { signal: new AbortController().signal })).toEqual(state);
      } finally {
        await transport.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

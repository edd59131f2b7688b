import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KubernetesClient } from '../../providers/kubernetes-api/client.js';
import { KubernetesStatusError } from '../../providers/kubernetes-api/errors.js';
import { ServiceAccountToken } from '../../providers/kubernetes-api/token.js';
import { AbortedError, AuthError, DiscoveryError, ProtocolError, ThrottledError, TimeoutError } from '../../src/errors.js';
import { makeCertificates } from '../emulators/kubernetes/certs.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { clientFor, errorText, LIST_PODS, manualClock, podsPath } from './provider-helpers.js';

/* The client's error paths on the wire (HTTPS, verified against the emulator's test CA). */

let emu: KubernetesEmulator;
let client: KubernetesClient;
const tokens = new Set<string>();
const errors: unknown[] = [];

const listCall = (extra: Partial<Parameters<KubernetesClient['request']>[0]> = {}) => ({ method: 'GET' as const, path: podsPath(), rbac: LIST_PODS, ...extra });

async function failure(p: Promise<unknown>): Promise<unknown> {
  const err = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
  errors.push(err);
  return err;
}

beforeAll(async () => {
  emu = await startKubernetesEmulator();
  tokens.add(emu.token);
  emu.addPod({ name: 'a', labels: { app: 'web' }, podIP: '10.0.0.1' });
  client = clientFor(emu);
});
afterEach(() => {
  emu.faults.clear();
  emu.allowAll();
  emu.resetRequests();
});
afterAll(async () => {
  client.close();
  await emu.close();
});

describe('kubernetes client: success and shape', () => {
  it('GETs JSON over verified TLS with the bearer token', async () => {
    const res = await client.request(listCall({ query: { labelSelector: 'app=web', limit: 10 } }));
    expect(res.status).toBe(200);
    expect((res.body as any).kind).toBe('PodList');
    expect(emu.requests).toMatchObject([{ method: 'GET', path: podsPath(), token: 'valid', query: { labelSelector: 'app=web', limit: '10' } }]);
  });

  it('json() names the field that does not match', async () => {
    const err = await failure(client.json(z.object({ metadata: z.object({ resourceVersion: z.number() }) }), listCall()));
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/metadata\.resourceVersion/);
  });

  it('accepted statuses are returned, others are KubernetesStatusError with .status and .reason', async () => {
    const get = { method: 'GET' as const, path: `${podsPath()}/nope`, rbac: { verb: 'get', resource: 'pods', apiGroup: '' } };
    expect((await client.request({ ...get, accept: [404] })).status).toBe(404);
    const err = await failure(client.request(get));
    expect(err).toBeInstanceOf(KubernetesStatusError);
    expect(err).toMatchObject({ status: 404, reason: 'NotFound', retriable: false, code: 'CLUSTERSEED_E_DISCOVERY' });
  });
});

describe('kubernetes client: auth', () => {
  it('403 is an AuthError naming verb, resource, API group and namespace', async () => {
    emu.deny({ verb: 'list', resource: 'pods' });
    const err = await failure(client.request(listCall()));
    expect(err).toBeInstanceOf(AuthError);
    const e = err as AuthError;
    expect(e.code).toBe('CLUSTERSEED_E_AUTH');
    expect(e.message).toContain('"list" "pods" in namespace "default"');
    expect(e.hint).toContain(
      'the service account needs "list" on "pods" in namespace "default" (a Role with apiGroups [""], resources ["pods"], verbs ["list","watch"]',
    );
    expect(e.hint).toContain('docs/providers/kubernetes-api.md');
  });

  it('a Lease 403 names the coordination.k8s.io rule', async () => {
    emu.deny({ verb: 'update', resource: 'leases' });
    const err = await failure(
      client.request({
        method: 'PUT',
        path: '/apis/coordination.k8s.io/v1/namespaces/default/leases/x',
        body: { metadata: { name: 'x', resourceVersion: '1' }, spec: {} },
        rbac: { verb: 'update', resource: 'leases', apiGroup: 'coordination.k8s.io' },
      }),
    );
    expect((err as AuthError).hint).toContain('apiGroups ["coordination.k8s.io"], resources ["leases"], verbs ["get","create","update"]');
  });

  it('a rotated token (old one revoked): 401, re-read, the same call succeeds', async () => {
    tokens.add(emu.rotateToken({ revokeOld: true }));
    const res = await client.request(listCall());
    expect(res.status).toBe(200);
    expect(emu.requests.map((r) => [r.token, r.status])).toEqual([
      ['invalid', 401],
      ['valid', 200],
    ]);
    // and the next call uses the fresh token straight away
    emu.resetRequests();
    await client.request(listCall());
    expect(emu.requests.map((r) => r.token)).toEqual(['valid']);
  });

  it('a revoked token with nothing new in the file: AuthError naming the RBAC rule, after one re-read', async () => {
    const current = emu.token;
    emu.revokeToken(current);
    try {
      const err = await failure(client.request(listCall()));
      expect(err).toBeInstanceOf(AuthError);
      expect((err as AuthError).message).toMatch(/HTTP 401.*re-reading/);
      expect((err as AuthError).hint).toContain('"list" on "pods" in namespace "default"');
      expect(emu.requests.map((r) => r.status)).toEqual([401]);
    } finally {
      tokens.add(emu.rotateToken());
    }
  });

  it('the token is cached at most 60 s (injectable clock), then re-read', async () => {
    const clock = manualClock();
    const c = clientFor(emu, { clock });
    try {
      await c.request(listCall());
      const old = emu.token;
      tokens.add(emu.rotateToken()); // old stays valid
      clock.advance(59_000);
      emu.revokeToken(old);
      emu.resetRequests();
      await c.request(listCall()); // still the cached old token: 401, re-read, retry
      expect(emu.requests.map((r) => r.token)).toEqual(['invalid', 'valid']);

      const old2 = emu.token;
      tokens.add(emu.rotateToken());
      clock.advance(60_000);
      emu.revokeToken(old2);
      emu.resetRequests();
      await c.request(listCall()); // cache expired: the new token is read before sending
      expect(emu.requests.map((r) => r.token)).toEqual(['valid']);
    } finally {
      c.close();
    }
  });
});

describe('kubernetes client: throttling, bad bodies, time', () => {
  it('429 is retried honouring Retry-After', async () => {
    await client.request(listCall()); // the shared client re-reads the token rotated above first
    emu.resetRequests();
    emu.faults.throttle(2, 1);
    const t0 = performance.now();
    expect((await client.request(listCall({ timeoutMs: 5000 }))).status).toBe(200);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(4000);
    expect(emu.requests.map((r) => r.status)).toEqual([429, 429, 200]);
  });

  it('429 gives up after 3 retries with ThrottledError', async () => {
    emu.faults.throttle(10, 0);
    const err = await failure(client.request(listCall()));
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as ThrottledError).retriable).toBe(true);
    expect(emu.requests.map((r) => r.status)).toEqual([429, 429, 429, 429]);
  });

  it('a Retry-After beyond the deadline fails at once', async () => {
    emu.faults.throttle(1, 30);
    const t0 = performance.now();
    const err = await failure(client.request(listCall({ timeoutMs: 2000 })));
    expect(err).toBeInstanceOf(ThrottledError);
    expect((err as Error).message).toContain('Retry-After 30');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(emu.requests).toHaveLength(1);
  });

  it('a body that is not JSON is a ProtocolError', async () => {
    emu.faults.malformed();
    const err = await failure(client.request(listCall()));
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('CLUSTERSEED_E_PROTOCOL');
  });

  it('a hang is a TimeoutError within the timeout', async () => {
    emu.faults.hang();
    const t0 = performance.now();
    const err = await failure(client.request(listCall({ timeoutMs: 300 })));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000);
  });

  it("the caller's abort is honoured at once", async () => {
    emu.faults.hang();
    const ac = new AbortController();
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 50);
    const err = await failure(client.request(listCall({ signal: ac.signal, timeoutMs: 10_000 })));
    expect(err).toBeInstanceOf(AbortedError);
    expect(performance.now() - t0).toBeLessThan(500);
    // an already aborted signal sends nothing
    emu.resetRequests();
    const pre = AbortSignal.abort();
    expect(await failure(client.request(listCall({ signal: pre })))).toBeInstanceOf(AbortedError);
    expect(emu.requests).toHaveLength(0);
  });
});

describe('kubernetes client: TLS is always verified', () => {
  let other: KubernetesEmulator;
  beforeAll(async () => {
    other = await startKubernetesEmulator({ host: '0.0.0.0' });
  });
  afterAll(async () => {
    await other.close();
  });

  it('an unknown CA is a DiscoveryError that says TLS and why', async () => {
    const c = clientFor(emu, { ca: readFileSync(other.caFile, 'utf8') });
    try {
      const err = await failure(c.request(listCall()));
      expect(err).toBeInstanceOf(DiscoveryError);
      expect((err as Error).message).toMatch(/TLS verification of https:\/\/127\.0\.0\.1:\d+ failed: .*(unknown CA|not signed by the configured CA)/);
      expect((err as DiscoveryError).retriable).toBe(false);
      expect((err as DiscoveryError).hint).toMatch(/caFile.*no insecure mode/);
      expect(emu.requests).toHaveLength(0);
    } finally {
      c.close();
    }
  });

  it('a host the certificate does not name is a hostname mismatch', async () => {
    const c = clientFor(other, { apiServer: `https://127.0.0.2:${other.port}` });
    try {
      const err = await failure(c.request(listCall()));
      expect(err).toBeInstanceOf(DiscoveryError);
      expect((err as Error).message).toMatch(/TLS .*hostname mismatch/);
    } finally {
      c.close();
    }
  });

  it('the certificate of the right CA for a named host (localhost, SNI) verifies', async () => {
    const c = clientFor(emu, { apiServer: `https://localhost:${emu.port}` });
    try {
      expect((await c.request(listCall())).status).toBe(200);
    } finally {
      c.close();
    }
  });
});

describe('kubernetes client: close and secrets', () => {
  it('close() ends in-flight calls and refuses new ones', async () => {
    const c = clientFor(emu);
    emu.faults.hang();
    const p = failure(c.request(listCall()));
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    expect(await p).toBeInstanceOf(AbortedError);
    expect(await failure(c.request(listCall()))).toBeInstanceOf(AbortedError);
  });

  it('ServiceAccountToken.scrub removes every token it has read', async () => {
    const t = new ServiceAccountToken(emu.tokenFile);
    const first = await t.load();
    tokens.add(emu.rotateToken());
    const second = await t.refresh();
    expect(t.scrub(`a ${first} b ${second} c`)).toBe('a [redacted] b [redacted] c');
  });

  it('no token appears in any error of this file', () => {
    expect(errors.length).toBeGreaterThan(10);
    for (const err of errors) {
      const text = errorText(err);
      for (const t of tokens) expect(text).not.toContain(t);
    }
  });
});

describe('kubernetes client: stream() on a hand-written server', () => {
  let server: https.Server;
  let url: string;
  let ca: string;
  let handler: (req: http.IncomingMessage, res: http.ServerResponse) => void = () => {};
  const sockets = new Set<{ destroy(): void }>();
  let tokenSource: ServiceAccountToken;
  beforeAll(async () => {
    tokenSource = new ServiceAccountToken(emu.tokenFile);
    await tokenSource.load();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-k8s-stream-'));
    const certs = await makeCertificates(dir, '127.0.0.1');
    ca = certs.caPem;
    server = https.createServer({ cert: certs.certPem, key: certs.keyPem }, (req, res) => handler(req, res));
    server.on('connection', (s: import('node:net').Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  const make = () => new KubernetesClient({ apiServer: url, namespace: 'default', ca, token: tokenSource });
  const watchCall = (signal?: AbortSignal) => ({
    method: 'GET' as const,
    path: podsPath(),
    query: { watch: 1 },
    signal,
    rbac: { verb: 'watch', resource: 'pods', apiGroup: '' },
  });

  it('splits newline-delimited JSON across any chunk boundary (inside a UTF-8 character too)', async () => {
    const lines = [
      { type: 'ADDED', object: { name: 'één' } },
      { type: 'MODIFIED', object: { name: '日本' } },
      { type: 'DELETED', object: { n: 3 } },
    ];
    const bytes = Buffer.from(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n\n${JSON.stringify({ type: 'BOOKMARK' })}`);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let i = 0;
      const step = () => {
        if (i >= bytes.length) return res.end();
        res.write(bytes.subarray(i, i + 3));
        i += 3;
        setImmediate(step);
      };
      step();
    };
    const c = make();
    const got: unknown[] = [];
    await c.stream(watchCall(), (e) => got.push(e));
    c.close();
    expect(got).toEqual([...lines, { type: 'BOOKMARK' }]);
  });

  it('a malformed line is a ProtocolError and ends the stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{}}\n{"type":\n');
    };
    const c = make();
    const got: unknown[] = [];
    const err = await failure(c.stream(watchCall(), (e) => got.push(e)));
    c.close();
    expect(err).toBeInstanceOf(ProtocolError);
    expect(got).toHaveLength(1);
  });

  it('abort ends the stream at once and destroys the socket', async () => {
    let closed = false;
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{}}\n');
      req.socket.on('close', () => {
        closed = true;
      });
    };
    const c = make();
    const ac = new AbortController();
    const p = failure(c.stream(watchCall(ac.signal), () => ac.abort()));
    expect(await p).toBeInstanceOf(AbortedError);
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
    c.close();
  });

  it('idleTimeoutMs ends a silent stream with a TimeoutError', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('\n');
    };
    const c = make();
    const err = await failure(c.stream({ ...watchCall(), idleTimeoutMs: 200 }, () => {}));
    c.close();
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('Retry-After as an HTTP date is honoured', async () => {
    let n = 0;
    handler = (_req, res) => {
      if (n++ === 0) {
        res.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString(), 'content-type': 'application/json' });
        return res.end('{"kind":"Status","code":429,"reason":"TooManyRequests"}');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"PodList","metadata":{"resourceVersion":"1"},"items":[]}');
    };
    const c = make();
    const t0 = performance.now();
    expect((await c.request(listCall())).status).toBe(200);
    c.close();
    expect(performance.now() - t0).toBeGreaterThan(900); // HTTP dates have 1 s resolution
    expect(n).toBe(2);
  });

  it('a 5xx is a retriable KubernetesStatusError; a body echoing the token is scrubbed', async () => {
    handler = (req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`upstream failed for ${req.headers.authorization}`);
    };
    const c = make();
    const err = await failure(c.request(listCall()));
    c.close();
    expect(err).toMatchObject({ status: 503, retriable: true });
    expect((err as Error).message).toContain('[redacted]');
  });
});

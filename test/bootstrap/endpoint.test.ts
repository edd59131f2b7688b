import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEndpoint, type ManagementEndpoint } from '../../src/bootstrap/endpoint.js';
import { createHttpProbeTransport } from '../../src/bootstrap/prober.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { silentLogger } from '../../src/logger.js';

const state: SeedNodesResponse = { self: { host: '127.0.0.1', port: 7000 }, seedNodes: [], lowest: { host: '127.0.0.1', port: 7000 }, view: 1, members: 0 };
let endpoint: ManagementEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

/** Sends raw bytes and returns the raw response (the server closes or answers). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString();
      if (/\r\n\r\n/.test(data)) {
        const m = /content-length: (\d+)/i.exec(data);
        const body = data.split('\r\n\r\n')[1] ?? '';
        if (!m || body.length >= Number(m[1])) {
          socket.destroy();
          resolve(data);
        }
      }
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

describe('management endpoint', () => {
  it('serves the state and health; 404 / 405 / 400 otherwise', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => state, logger: silentLogger });
    const base = `http://127.0.0.1:${endpoint.port}`;
    const seeds = await fetch(`${base}/bootstrap/seed-nodes`);
    expect(seeds.status).toBe(200);
    expect(await seeds.json()).toEqual(state);
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/other`)).status).toBe(404);
    const post = await fetch(`${base}/health`, { method: 'DELETE' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    const withBody = await raw(endpoint.port, 'GET /health HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc');
    expect(withBody).toMatch(/^HTTP\/1.1 400/);
    const chunked = await raw(endpoint.port, 'GET /health HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(chunked).toMatch(/^HTTP\/1.1 400/);
  });

  it('rejects headers over 8 KiB', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => state, logger: silentLogger });
    const res = await raw(endpoint.port, `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(9000)}\r\n\r\n`);
    expect(res).toMatch(/^HTTP\/1.1 431/);
  });

  it('answers 503 while starting', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => undefined, logger: silentLogger });
    expect((await fetch(`http://127.0.0.1:${endpoint.port}/bootstrap/seed-nodes`)).status).toBe(503);
  });

  it('needs the bearer token on seed-nodes, never on health', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, token: 's3cret', report: () => state, logger: silentLogger });
    const base = `http://127.0.0.1:${endpoint.port}`;
    expect((await fetch(`${base}/bootstrap/seed-nodes`)).status).toBe(401);
    expect((await fetch(`${base}/bootstrap/seed-nodes`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/bootstrap/seed-nodes`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('reports a port in use as a config error naming management.port', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => state, logger: silentLogger });
    await expect(startEndpoint({ host: '127.0.0.1', port: endpoint.port, report: () => state, logger: silentLogger })).rejects.toMatchObject({
      code: 'CLUSTERSEED_E_CONFIG',
      message: expect.stringContaining('management.port'),
    });
  });
});

describe('http probe transport', () => {
  it('reuses one keep-alive connection per peer and leaves none open after close', async () => {
    endpoint = await startEndpoint({ host: '127.0.0.1', port: 0, report: () => state, logger: silentLogger });
    const transport = createHttpProbeTransport({ defaultPort: endpoint.port });
    const target = { host: '127.0.0.1', port: endpoint.port };
    for (let i = 0; i < 20; i++) expect(await transport.probe(target, { signal: new AbortController().signal })).toEqual(state);
    // Count the client sockets to the endpoint port that are ESTABLISHED (state 01) in the kernel's table.
    const { readFileSync } = await import('node:fs');
    const portHex = endpoint.port.toString(16).toUpperCase().padStart(4, '0');
    const count = () =>
      readFileSync('/proc/net/tcp', 'utf8')
        .split('\n')
        .slice(1)
        .filter((l) => {
          const f = l.trim().split(/\s+/);
          return f[2]?.endsWith(`:${portHex}`) && f[3] === '01';
        }).length;
    expect(count()).toBe(1);
    await transport.close();
    for (let i = 0; i < 100 && count() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(count()).toBe(0);
  });

  it('turns bad answers into typed errors naming the field', async () => {
    const http = await import('node:http');
    let body = '';
    let status = 200;
    const server = http.createServer((_, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const transport = createHttpProbeTransport({ defaultPort: port });
    const probe = () => transport.probe({ host: '127.0.0.1', port }, { signal: new AbortController().signal });
    try {
      body = 'not json';
      await expect(probe()).rejects.toMatchObject({ code: 'CLUSTERSEED_E_PROTOCOL', message: expect.stringContaining('not valid JSON') });
      body = JSON.stringify({ ...state, seedNodes: [{ host: '10.0.0.1', port: 'x' }] });
      await expect(probe()).rejects.toMatchObject({ code: 'CLUSTERSEED_E_PROTOCOL', message: expect.stringContaining('seedNodes[0].port') });
      body = JSON.stringify({ ...state, view: -1 });
      await expect(probe()).rejects.toMatchObject({ message: expect.stringContaining('"view"') });
      body = JSON.stringify({ ...state, lowest: 'a' });
      await expect(probe()).rejects.toMatchObject({ message: expect.stringContaining('"lowest"') });
      body = 'x'.repeat(70_000);
      await expect(probe()).rejects.toMatchObject({ code: 'CLUSTERSEED_E_PROTOCOL', message: expect.stringContaining('larger than') });
      status = 401;
      body = '{}';
      await expect(probe()).rejects.toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
      await expect(transport.probe({ host: '127.0.0.1', port: 1 }, { signal: new AbortController().signal })).rejects.toMatchObject({
        code: 'CLUSTERSEED_E_DISCOVERY',
      });
      const aborted = new AbortController();
      aborted.abort(new Error('stop'));
      await expect(transport.probe({ host: '127.0.0.1', port }, { signal: aborted.signal })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_ABORTED' });
    } finally {
      await transport.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

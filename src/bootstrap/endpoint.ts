import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { holdUntilChanged, type Rendered } from './long-poll.js';
import { answerTag, MAX_WAIT_HEADER, MAX_WAIT_MS, SEED_NODES_PATH, WAIT_PARAM, type SeedNodesResponse } from './protocol.js';
import type { ManagementTls } from './tls.js';

export interface EndpointOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** When set, /bootstrap/seed-nodes needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** The current state; undefined while the node is still starting (answered with 503). */
  report: () => Promise<SeedNodesResponse | undefined> | SeedNodesResponse | undefined;
  /**
   * Subscribes to changes of what report() answers, for the long poll (`?waitMs=`); returns the
   * unsubscribe, or undefined when nothing announces changes (then a long poll is answered at once).
   */
  changes?: ((listener: () => void) => (() => void) | undefined) | undefined;
  logger: Logger;
  /**
   * HTTPS only (management.tls): the same routes and limits; a plain-HTTP request fails the
   * handshake and gets no answer. With requireClientCert, a client without a certificate signed by
   * `ca` is refused during the handshake, /health included.
   */
  tls?: ManagementTls | undefined;
  /**
   * The probe interval this node's peers use (the same config): an idle keep-alive connection is
   * kept a little longer than one interval, so each prober keeps one connection per peer.
   */
  probeIntervalMs?: number | undefined;
}

export interface ManagementEndpoint {
  /** The bound address (the real port when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** Whether it speaks HTTPS. */
  readonly tls: boolean;
  close(): Promise<void>;
}

/** Limits of DESIGN §6: small headers, no bodies, a slow client is cut off. */
export const MAX_HEADER_BYTES = 8 * 1024;
export const REQUEST_TIMEOUT_MS = 5000;
/** Each undecided peer holds one request: far more than any cluster needs, far less than a flood. */
export const MAX_HELD_REQUESTS = 1024;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time comparison (hashing first makes the lengths equal, so the length leaks nothing either). */
function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(presented), digest(token));
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, JSON.stringify(body), headers);
}

function sendText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

const MAX_WAIT_VALUE = String(MAX_WAIT_MS);

/** `waitMs` of the query: undefined when absent, an error text when malformed (the only parameter read). */
function waitOf(url: string): number | undefined | string {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const raw = new URLSearchParams(url.slice(q + 1)).get(WAIT_PARAM);
  if (raw === null) return undefined;
  return /^\d{1,5}$/.test(raw) && Number(raw) <= MAX_WAIT_MS ? Number(raw) : `${WAIT_PARAM} must be an integer from 0 to ${MAX_WAIT_MS}`;
}

/**
 * The management endpoint: `GET /bootstrap/seed-nodes` and `GET /health`, nothing else. Peers probe
 * it; it is also how late joiners find the cluster, so it lives until close().
 */
export async function startEndpoint(options: EndpointOptions): Promise<ManagementEndpoint> {
  const { logger, token, tls } = options;
  const limits: http.ServerOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: REQUEST_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // How often the two timeouts above are enforced (Node's default is every 30 s).
    connectionsCheckingInterval: 1000,
    // Longer than a probe interval (with its jitter), so probers keep one connection per peer.
    keepAliveTimeout: Math.max(10_000, Math.ceil(1.5 * (options.probeIntervalMs ?? 0))),
  };
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== SEED_NODES_PATH && path !== '/health') return send(res, 404, { error: 'not found' });
    if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' }, { allow: 'GET' });
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')) {
      // The body is never read: close the connection rather than parse what follows it.
      return send(res, 400, { error: 'requests must not have a body' }, { connection: 'close' });
    }
    if (path === '/health') return send(res, 200, { status: 'ok' });
    if (token !== undefined && !tokenMatches(req.headers.authorization, token)) {
      return send(res, 401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    }
    const waitMs = waitOf(req.url ?? '/');
    if (typeof waitMs === 'string') return send(res, 400, { error: waitMs });
    const reply = (r: Rendered | undefined, headers?: Record<string, string>) =>
      r
        ? sendText(res, 200, r.text, { etag: r.etag, [MAX_WAIT_HEADER]: MAX_WAIT_VALUE, ...headers })
        : send(res, 503, { error: 'starting' }, { 'retry-after': '1' });
    const failed = (err: unknown) => {
      logger.error({ error: err }, 'management endpoint: cannot report the bootstrap state');
      if (!res.headersSent && !res.destroyed) send(res, 500, { error: 'internal error' });
    };
    render().then((r) => {
      const known = req.headers['if-none-match'];
      if (!r || !waitMs || known !== r.etag || held >= MAX_HELD_REQUESTS) return reply(r);
      held++;
      holdUntilChanged({ res, etag: r.etag, waitMs, render, changes: options.changes, reply, failed }).finally(() => held--);
    }, failed);
  };
  // report() returns the same object while nothing changed, and every held poll renders after every
  // change: serialize each state once, not once per request.
  const rendered = new WeakMap<SeedNodesResponse, Rendered>();
  const render = async (): Promise<Rendered | undefined> => {
    const state = await options.report();
    if (!state) return undefined;
    let r = rendered.get(state);
    if (r === undefined) {
      r = { text: JSON.stringify(state), etag: answerTag(state) };
      rendered.set(state, r);
    }
    return r;
  };
  /** Long polls being held (bounded: past the limit they are answered at once, which is always correct). */
  let held = 0;
  const server: http.Server = tls
    ? https.createServer(
        {
          ...limits,
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
          minVersion: 'TLSv1.2',
          // A client that connects and never completes the handshake is cut like a slow request.
          handshakeTimeout: REQUEST_TIMEOUT_MS,
          // Mutual TLS: refused in the handshake, before any route (so /health too).
          requestCert: tls.requireClientCert,
          rejectUnauthorized: tls.requireClientCert,
        },
        handler,
      )
    : http.createServer(limits, handler);
  if (tls) {
    // A plain-HTTP client, a peer from another CA, a client without a certificate, a handshake past
    // handshakeTimeout: the socket is closed without an answer (Node leaves the timed-out one open).
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code !== 'ECONNRESET') {
        logger.debug({ error: { code: err.code, message: err.message }, remote: socket.remoteAddress }, 'management endpoint: TLS handshake failed');
      }
      socket.destroy();
    });
  }
  server.on('clientError', (err, socket) => {
    // A prober closing its keep-alive socket is routine, not a bad request.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') return void socket.destroy();
    // A failed TLS handshake (logged by tlsClientError) gets no answer: there is no HTTP to speak.
    if (tls && (err as NodeJS.ErrnoException).code?.startsWith('ERR_SSL_')) return void socket.destroy();
    logger.debug({ error: err }, 'management endpoint: bad request');
    if (socket.writable) {
      const code = (err as NodeJS.ErrnoException).code;
      const status =
        code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      if (err.code === 'EADDRINUSE') {
        reject(new ConfigError(`management.port: ${where} is already in use`, { hint: 'choose another management.port, or 0 for any free port', cause: err }));
      } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
        reject(
          new ConfigError(`management.host: cannot bind ${where}: no such local address`, { hint: 'bind 0.0.0.0 or an address of this machine', cause: err }),
        );
      } else if (err.code === 'EACCES') {
        reject(new ConfigError(`management.port: not allowed to bind ${where}`, { hint: 'use a port above 1023', cause: err }));
      } else reject(err);
    };
    server.once('error', onError);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  logger.debug({ host: address.address, port: address.port }, 'management endpoint listening');
  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    tls: tls !== undefined,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

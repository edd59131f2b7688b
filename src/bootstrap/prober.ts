import http from 'node:http';
import https from 'node:https';
import { formatHostPort } from '../address.js';
import { abortReason } from '../backoff.js';
import { AuthError, ClusterseedError, DiscoveryError, ProtocolError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { ContactPoint } from '../types.js';
import { HELD_HEADER, LEGACY_MAX_WAIT_MS, MAX_WAIT_HEADER, parseSeedNodesResponse, SEED_NODES_PATH, WAIT_PARAM, type SeedNodesResponse } from './protocol.js';
import type { ManagementTls } from './tls.js';

/** How the coordinator asks a peer for its state; injected so tests and the simulation script it. */
export interface ProbeTransport {
  /** Must settle once `signal` fires (the coordinator aborts it after probeTimeoutMs). */
  probe(target: ContactPoint, options: { signal: AbortSignal }): Promise<SeedNodesResponse>;
  /**
   * Optional, the bounded long poll (protocol.ts): with the `etag` of the last answer, the peer holds
   * the request until its answer changes or `waitMs` pass; without one it answers at once. Must
   * settle once `signal` fires. A transport without it is probed on the interval only.
   */
  poll?(target: ContactPoint, options: { signal: AbortSignal; etag: string | undefined; waitMs: number }): Promise<PollAnswer>;
  close(): Promise<void>;
}

export interface PollAnswer {
  response: SeedNodesResponse;
  /** The answer's ETag; undefined from a peer that cannot hold requests (probe it on the interval). */
  etag: string | undefined;
  /** How long the peer held the request (0 when it answered at once). */
  heldMs: number;
  /** The longest `waitMs` the peer grants (LEGACY_MAX_WAIT_MS when undefined: it does not say). */
  maxWaitMs?: number | undefined;
}

/** A peer's answer is a few hundred bytes; anything far larger is not a clusterseed endpoint. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpProbeOptions {
  token?: string | undefined;
  /** Port used for contact points discovered without one (EC2 tags without `ports`, A records…). */
  defaultPort: number;
  /**
   * management.tls: probe over HTTPS, verify the responder against `ca` (else the system CAs) and
   * present `cert`/`key` as the client certificate.
   */
  tls?: ManagementTls | undefined;
  /** Where a peer failing TLS is reported (once per peer and reason). */
  logger?: Logger | undefined;
  /** How often each peer is probed: an idle connection is kept a little longer than that. */
  probeIntervalMs?: number | undefined;
}

/** OpenSSL's verification results (X509_V_ERR_*) as Node names them: the peer's certificate is not trusted. */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Why a probe over TLS failed, when TLS is why: `peer-cert` (the responder's certificate does not
 * verify), `refused` (the responder refused ours), `not-tls` (the port answers plain HTTP),
 * `handshake` (anything else in TLS). undefined for network errors that are not about TLS.
 * `fresh`: the connection was opened for this probe; `handshakeDone`: its handshake completed.
 */
function tlsFailure(err: NodeJS.ErrnoException, fresh: boolean, handshakeDone: boolean): { kind: keyof typeof TLS_HINTS; reason: string } | undefined {
  const code = err.code ?? '';
  const message = err.message;
  if (VERIFY_CODES.has(code)) return { kind: 'peer-cert', reason: `the peer's certificate does not verify: ${message} (${code})` };
  if (/wrong version number|packet length too long|http request/i.test(message) || code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return { kind: 'not-tls', reason: 'the peer does not speak TLS (a plain-HTTP endpoint?): wrong version number' };
  }
  const alert = /alert ([a-z ]+)/i.exec(message)?.[1] ?? /_ALERT_([A-Z_]+)$/.exec(code)?.[1]?.toLowerCase().replace(/_/g, ' ');
  if (alert !== undefined) return { kind: 'refused', reason: `the peer refused the handshake with the alert "${alert.trim()}" (${code || 'EPROTO'})` };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') return { kind: 'handshake', reason: `${message} (${code})` };
  if (fresh && (code === 'ECONNRESET' || code === 'EPIPE')) {
    // With TLS 1.3 the client's handshake completes before the server has checked the client
    // certificate; a server refusing it then closes the connection, and the reset usually swallows
    // its alert. The peer's own log says why.
    return handshakeDone
      ? {
          kind: 'refused',
          reason: `the peer closed the connection right after the TLS handshake, unanswered: it likely refused this node's client certificate (${code})`,
        }
      : { kind: 'handshake', reason: `the peer closed the connection during the TLS handshake (${code})` };
  }
  return undefined;
}

const TLS_HINTS = {
  'peer-cert':
    "issue every node's certificate from the CA in management.tls.caFile, naming the address peers probe (IP or DNS) in its subjectAltName; keep it valid",
  refused: 'the peer requires a client certificate (requireClientCert) from its caFile, with the clientAuth usage: give every node a certificate from one CA',
  'not-tls': 'all nodes of one service must use the same scheme: set management.tls on every node, or on none',
  handshake: 'check that the peer serves management.tls with a certificate from the same CA',
} as const;

/**
 * HTTP probes over one keep-alive agent: each peer is probed at most once at a time, so one socket
 * per peer is reused for the whole bootstrap; close() destroys them all.
 */
export function createHttpProbeTransport(options: HttpProbeOptions): ProbeTransport {
  const { tls } = options;
  const logger = options.logger ?? silentLogger;
  const keepAlive = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: Math.max(30_000, Math.ceil(1.5 * (options.probeIntervalMs ?? 0))) };
  const agent = tls
    ? new https.Agent({
        ...keepAlive,
        cert: tls.cert,
        key: tls.key,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      })
    : new http.Agent(keepAlive);
  const request = tls ? https.request : http.request;
  /** The TLS reason last logged per peer, so a peer that keeps failing the same way is logged once. */
  const tlsLogged = new Map<string, string>();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;

  const exchange = (target: ContactPoint, signal: AbortSignal, wait?: { etag: string | undefined; waitMs: number }) =>
    new Promise<PollAnswer>((resolve, reject) => {
      const where = `probe of ${formatHostPort(target)}`;
      if (signal.aborted) return reject(abortReason(signal));
      const peer = formatHostPort(target);
      let handshakeDone = false;
      let fresh = true;
      const holding = wait?.etag !== undefined && wait.waitMs > 0;
      const req = request({
        host: target.host,
        port: target.port ?? options.defaultPort,
        path: holding ? `${SEED_NODES_PATH}?${WAIT_PARAM}=${Math.round(wait!.waitMs)}` : SEED_NODES_PATH,
        method: 'GET',
        headers: holding ? { ...headers, 'if-none-match': wait!.etag! } : headers,
        agent,
        signal,
      });
      if (tls) {
        req.on('socket', (socket) => {
          // A reused keep-alive socket finished its handshake long ago.
          fresh = !req.reusedSocket;
          if (!fresh) handshakeDone = true;
          else socket.once('secureConnect', () => (handshakeDone = true));
        });
      }
      const fail = (err: unknown) => {
        if (signal.aborted) return reject(abortReason(signal));
        if (err instanceof ClusterseedError) return reject(err);
        const code = (err as NodeJS.ErrnoException).code;
        const failure = tls ? tlsFailure(err as NodeJS.ErrnoException, fresh, handshakeDone) : undefined;
        if (failure) {
          if (tlsLogged.get(peer) !== failure.reason) {
            tlsLogged.set(peer, failure.reason);
            logger.warn({ target: peer, reason: failure.reason }, 'management TLS with a peer failed; its probes count as failed');
          }
          return reject(new DiscoveryError(`${where} failed: TLS: ${failure.reason}`, { cause: err, hint: TLS_HINTS[failure.kind] }));
        }
        reject(
          new DiscoveryError(`${where} failed: ${code ?? (err as Error).message}`, {
            cause: err,
            hint: 'the peer is not (yet) running its management endpoint, or a firewall blocks the port',
          }),
        );
      };
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new ProtocolError(`${where}: response larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 401 || status === 403) {
            return reject(new AuthError(`${where}: HTTP ${status}`, { hint: 'set the same management.token (CLUSTERSEED_MANAGEMENT_TOKEN) on every node' }));
          }
          if (status !== 200) {
            return reject(
              new ProtocolError(`${where}: HTTP ${status}`, {
                hint: status === 503 ? 'the peer is still starting' : 'the port does not serve a clusterseed management endpoint',
              }),
            );
          }
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(new ProtocolError(`${where}: response is not valid JSON`, { hint: 'the port does not serve a clusterseed management endpoint' }));
          }
          tlsLogged.delete(peer);
          try {
            const response = parseSeedNodesResponse(body, where);
            const etag = res.headers.etag;
            const held = res.headers[HELD_HEADER];
            const heldMs = held === undefined ? 0 : Number(held);
            const notOurs = { hint: 'the port does not serve a clusterseed management endpoint' };
            if (!Number.isInteger(heldMs) || heldMs < 0) throw new ProtocolError(`${where}: header ${HELD_HEADER} must be a non-negative integer`, notOurs);
            const granted = res.headers[MAX_WAIT_HEADER];
            const maxWaitMs = granted === undefined ? LEGACY_MAX_WAIT_MS : Number(granted);
            if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0) {
              throw new ProtocolError(`${where}: header ${MAX_WAIT_HEADER} must be a non-negative integer`, notOurs);
            }
            resolve({ response, etag: typeof etag === 'string' && etag.length <= 128 ? etag : undefined, heldMs, maxWaitMs });
          } catch (err) {
            reject(err);
          }
        });
      });
      req.end();
    });

  return {
    probe: (target, { signal }) => exchange(target, signal).then((a) => a.response),
    poll: (target, { signal, etag, waitMs }) => exchange(target, signal, { etag, waitMs }),
    async close() {
      agent.destroy();
    },
  };
}

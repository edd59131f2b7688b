import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { z } from 'zod';
import { abortReason, backoffDelay, sleep } from '../../src/backoff.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { AbortedError, ClusterseedError, ConfigError, DiscoveryError, ProtocolError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { withDeadline } from '../../src/signal.js';
import { checkWireShape } from '../../src/wire.js';
import { describe, queryString, type KubeCall, type KubeResponse } from './call.js';
import { MAX_THROTTLE_RETRIES, networkError, retryAfterMs, statusError } from './errors.js';
import { resolveInClusterConfig, type Env } from './in-cluster.js';
import type { KubernetesApiOptions } from './options.js';
import { readAll, readLines } from './stream.js';
import { ServiceAccountToken } from './token.js';

/*
 * A small typed HTTPS client for the Kubernetes API, on node:https. @kubernetes/client-node is not
 * used: its 2.x crashes on import under Node 20, and 1.x is ~70 MB of dependencies with no per-call
 * AbortSignal. What this one guarantees:
 * - TLS always verifies the API server against the cluster CA (caFile); there is no insecure mode.
 *   A verification failure is a DiscoveryError that says TLS and why (unknown CA, hostname mismatch…).
 * - One deadline per call (timeoutMs, default 10 s) covers every retry inside it; the caller's signal
 *   aborts at once and destroys the socket. close() destroys the keep-alive agent and in-flight calls.
 * - 401: the token is re-read at once and, if it changed (a rotation), the call is retried once;
 *   otherwise (or again) AuthError. 403: AuthError naming the RBAC rule to add (verb, resource, API
 *   group, namespace). 429: retried at most 3 times, honouring Retry-After, never past the deadline
 *   (a Retry-After longer than what is left fails at once), then ThrottledError.
 * - Other statuses not in `accept`: KubernetesStatusError (.status, .reason); retriable for 5xx,
 *   408 and 504, not for 400/404/409/410/422 (callers that expect those — 410 Expired continue and
 *   watch resourceVersions, 409 on Leases — handle them themselves).
 * - A 2xx body that is not JSON, or not the expected shape, is a ProtocolError naming the field.
 * - The token travels only in the Authorization header; error texts are scrubbed of every token read.
 */

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface KubernetesClientConfig {
  apiServer: string;
  namespace: string;
  /** PEM of the cluster CA. */
  ca: string | Buffer;
  token: ServiceAccountToken;
  clock?: Clock;
  logger?: Logger;
  /** [10 000] */
  defaultTimeoutMs?: number;
  /** The option that names the API server, for hints ["discovery.apiServer"]. */
  caKey?: string;
}

export class KubernetesClient {
  readonly apiServer: string;
  readonly namespace: string;
  readonly #url: URL;
  readonly #host: string;
  readonly #agent: https.Agent;
  readonly #token: ServiceAccountToken;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #defaultTimeoutMs: number;
  readonly #inflight = new Set<http.ClientRequest>();
  #closed = false;

  constructor(config: KubernetesClientConfig) {
    this.apiServer = config.apiServer.replace(/\/+$/, '');
    this.namespace = config.namespace;
    this.#url = new URL(this.apiServer);
    if (this.#url.protocol !== 'https:')
      throw new ConfigError(`discovery.apiServer: expected https://, got ${this.#url.protocol}//`, {
        hint: 'TLS is always verified: there is no http:// mode',
      });
    this.#host = this.#url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#token = config.token;
    this.#clock = config.clock ?? systemClock;
    this.#logger = config.logger ?? silentLogger;
    this.#defaultTimeoutMs = config.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ca: config.ca,
      rejectUnauthorized: true,
      // SNI carries host names only (RFC 6066); an IP API server is verified against its IP SANs.
      ...(net.isIP(this.#host) ? {} : { servername: this.#host }),
    });
  }

  /** One call; 2xx and `accept`ed statuses resolve, everything else throws a typed error. */
  async request(call: KubeCall): Promise<KubeResponse> {
    return this.#perform(
      call,
      async (res, signal) => {
        const text = await readAll(res, signal, call, this.#lost);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return { status, body: this.#parseJson(text, call), headers: res.headers };
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* an accepted status with a non-JSON body: give the text */
        }
        return { status, body, headers: res.headers };
      },
      true,
    );
  }

  /** 2xx body checked against schema; mismatch → ProtocolError naming the field. */
  async json<S extends z.ZodType>(schema: S, call: KubeCall): Promise<z.output<S>> {
    const { body } = await this.request(call);
    return checkShape(schema, body, describe(call));
  }

  /**
   * A watch: newline-delimited JSON events (chunk boundaries anywhere, even inside a UTF-8 sequence)
   * until the server ends the response (resolves) or the signal aborts (rejects with its reason, the
   * socket destroyed). A line that is not JSON is a ProtocolError. onEvent must not throw; if it does,
   * the stream is ended with that error.
   */
  async stream(call: KubeCall, onEvent: (event: unknown) => void): Promise<void> {
    await this.#perform(call, (res, signal) => readLines(res, signal, call, onEvent, { lost: this.#lost, scrub: (text) => this.#token.scrub(text) }), false);
  }

  /** Destroys the keep-alive sockets and ends in-flight calls (they reject with AbortedError). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#inflight) req.destroy(new AbortedError('kubernetes client closed'));
    this.#inflight.clear();
    this.#agent.destroy();
  }

  async #perform<T>(call: KubeCall, onResponse: (res: http.IncomingMessage, signal: AbortSignal) => Promise<T>, acceptable: boolean): Promise<T> {
    const what = describe(call);
    const timeoutMs = call.timeoutMs ?? this.#defaultTimeoutMs;
    // stream(): the deadline covers getting the response; the stream itself runs until it ends.
    const deadline = withDeadline(what, timeoutMs, call.signal);
    const endsAt = performance.now() + timeoutMs;
    const streamSignal = call.signal;
    let headersIn = false;
    try {
      let reauthenticated = false;
      let resentStale = false;
      for (let throttled = 0; ; ) {
        if (this.#closed) throw new AbortedError('kubernetes client closed');
        const token = await this.#token.get();
        let res: http.IncomingMessage;
        try {
          res = await this.#send(call, token, deadline.signal, what);
        } catch (err) {
          // A keep-alive socket the server closed while idle fails on first use: resend once, when safe.
          if (STALE.has(err as object) && call.method === 'GET' && !resentStale) {
            resentStale = true;
            continue;
          }
          throw err;
        }
        const status = res.statusCode ?? 0;
        if ((status >= 200 && status < 300) || (acceptable && call.accept?.includes(status))) {
          if (acceptable) return await onResponse(res, deadline.signal);
          headersIn = true;
          deadline.dispose();
          return await onResponse(res, streamSignal ?? new AbortController().signal);
        }
        const text = await readAll(res, deadline.signal, call, this.#lost);
        if (status === 401 && !reauthenticated) {
          reauthenticated = true;
          const fresh = await this.#token.refresh();
          if (fresh !== token) {
            this.#logger.debug({ call: what }, 'kubernetes-api: 401 after a token rotation; retrying with the re-read token');
            continue;
          }
        }
        if (status === 429 && throttled < MAX_THROTTLE_RETRIES) {
          const delay = retryAfterMs(res.headers['retry-after'], this.#clock.now()) ?? backoffDelay(throttled, { initialMs: 500, maxMs: 5000 });
          if (performance.now() + delay < endsAt) {
            throttled++;
            this.#logger.debug({ call: what, delayMs: delay, attempt: throttled }, 'kubernetes-api: throttled (HTTP 429); retrying');
            await sleep(delay, deadline.signal, this.#clock);
            continue;
          }
        }
        throw statusError(call, status, text, res.headers, this.#token);
      }
    } catch (err) {
      if (!headersIn && deadline.signal.aborted) throw abortReason(deadline.signal);
      if (headersIn && streamSignal?.aborted) throw abortReason(streamSignal);
      throw err;
    } finally {
      deadline.dispose();
    }
  }

  /** Sends one request; resolves when the response headers are in. */
  #send(call: KubeCall, token: string, signal: AbortSignal, what: string): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal));
      const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
      const headers: http.OutgoingHttpHeaders = {
        authorization: `Bearer ${token}`,
        accept: 'application/json',
        'user-agent': 'clusterseed',
      };
      if (body) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = body.length;
      }
      const req = https.request({
        agent: this.#agent,
        host: this.#host,
        port: this.#url.port || 443,
        method: call.method,
        path: call.path + queryString(call.query),
        headers,
      });
      this.#inflight.add(req);
      const onAbort = () => req.destroy(abortReason(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        signal.removeEventListener('abort', onAbort);
      };
      req.once('close', () => {
        this.#inflight.delete(req);
        done();
      });
      req.once('response', (res) => {
        done();
        // From here the reader listens to the signal; keep req tracked until the socket closes.
        resolve(res);
      });
      req.on('error', (err) => {
        done();
        if (signal.aborted) return reject(abortReason(signal));
        if (err instanceof ClusterseedError) return reject(err);
        const mapped = networkError(this.apiServer, what, err);
        const code = (err as { code?: string }).code;
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) STALE.add(mapped);
        reject(mapped);
      });
      req.end(body);
    });
  }

  #parseJson(text: string, call: KubeCall): unknown {
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ProtocolError(`${describe(call)}: the response is not valid JSON`, {
        hint: 'is discovery.apiServer a Kubernetes API server (and not a proxy or another service)?',
      });
    }
  }

  /** Also the readers' (stream.ts) error for a connection lost mid-body. */
  readonly #lost = (call: KubeCall, err?: Error): Error => {
    if (this.#closed) return new AbortedError('kubernetes client closed');
    return new DiscoveryError(
      `${describe(call)}: the connection to ${this.apiServer} ` +
        `was lost while reading the response${err ? `: ${(err as { code?: string }).code ?? err.message}` : ''}`,
      { cause: err },
    );
  };
}

/** Errors from a reused keep-alive socket that the server had closed. */
const STALE = new WeakSet<object>();

export function checkShape<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  return checkWireShape(schema, body, what, 'the API server answered in an unexpected format; check that discovery.apiServer is a Kubernetes API server');
}

export interface KubernetesClientDeps {
  env: Env;
  clock?: Clock;
  logger?: Logger;
}

/**
 * The in-cluster client (in-cluster.ts for where things come from). Reads the CA and the token once
 * here, so a missing file is a ConfigError at start-up naming the key, not a failed lookup later.
 */
export async function createKubernetesClient(
  options: Pick<KubernetesApiOptions, 'apiServer' | 'namespace' | 'tokenFile' | 'caFile' | 'namespaceFile'>,
  deps: KubernetesClientDeps,
): Promise<KubernetesClient> {
  const config = resolveInClusterConfig(options, deps.env);
  let ca: Buffer;
  try {
    ca = await readFile(config.caFile);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ConfigError(
      `discovery.caFile: cannot read the cluster CA ${config.caFile}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`,
      {
        cause: err,
        hint:
          'run in a pod with its service account mounted (ca.crt), ' +
          'or set discovery.caFile to the PEM of the CA that signed the API server certificate; TLS is always verified',
      },
    );
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) {
    throw new ConfigError(`discovery.caFile: ${config.caFile} holds no PEM certificate`, {
      hint: 'it must hold the cluster CA in PEM form (-----BEGIN CERTIFICATE-----)',
    });
  }
  const token = new ServiceAccountToken(config.tokenFile, { ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.logger ? { logger: deps.logger } : {}) });
  await token.load();
  return new KubernetesClient({
    apiServer: config.apiServer,
    namespace: config.namespace,
    ca,
    token,
    ...(deps.clock ? { clock: deps.clock } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}

import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { z } from 'zod';
import { abortReason, backoffDelay, sleep } from '../../src/backoff.js';
import { systemClock, type Clock } from '../../src/clock.js';
import {
  AbortedError, AuthError, ClusterseedError, ConfigError, DiscoveryError, ProtocolError, ThrottledError, TimeoutError, type ClusterseedErrorOptions,
} from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { withDeadline } from '../../src/signal.js';
import { checkWireShape } from '../../src/wire.js';
import { resolveInClusterConfig, type Env } from './in-cluster.js';
import type { KubernetesApiOptions } from './options.js';
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
/** 429 retries inside one call (the call's deadline bounds them too). */
export const MAX_THROTTLE_RETRIES = 3;
/** A response larger than this is refused (a list page of 500 pods is a few MB). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DOCS = 'docs/providers/kubernetes-api.md';

export interface KubeCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Segments already encoded, e.g. /apis/coordination.k8s.io/v1/namespaces/default/leases/x */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
  /** [10 000] For stream(): the time until the response headers arrive. */
  timeoutMs?: number;
  /** Named in AuthError hints ('' = the core group). */
  rbac: { verb: string; resource: string; apiGroup: string };
  /** Statuses returned instead of thrown (e.g. [404, 409]). */
  accept?: readonly number[];
  /** stream() only: end with a TimeoutError when no byte arrived for this long [none]. */
  idleTimeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  /** Parsed JSON; for an accepted non-2xx status whose body is not JSON, the text. */
  body: unknown;
  headers: http.IncomingHttpHeaders;
}

/** A Kubernetes `Status` object's useful fields. */
export interface KubeStatus {
  code?: number;
  reason?: string;
  message?: string;
}

/** `body` as a metav1.Status, or undefined when it is not one. */
export function parseKubeStatus(body: unknown): KubeStatus | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (b['kind'] !== 'Status') return undefined;
  const out: KubeStatus = {};
  if (typeof b['code'] === 'number') out.code = b['code'];
  if (typeof b['reason'] === 'string') out.reason = b['reason'];
  if (typeof b['message'] === 'string') out.message = b['message'];
  return out;
}

/** A status the caller did not accept, other than 401/403/429. */
export class KubernetesStatusError extends DiscoveryError {
  readonly status: number;
  /** The Status reason (NotFound, Conflict, AlreadyExists, Expired, Gone…), when the body had one. */
  readonly reason: string | undefined;
  constructor(message: string, status: number, reason: string | undefined, options: ClusterseedErrorOptions = {}) {
    super(message, { retriable: status >= 500 || status === 408, ...options });
    this.status = status;
    this.reason = reason;
  }
}

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
    if (this.#url.protocol !== 'https:') throw new ConfigError(`discovery.apiServer: expected https://, got ${this.#url.protocol}//`, { hint: 'TLS is always verified: there is no http:// mode' });
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
    return this.#perform(call, async (res, signal) => {
      const text = await this.#readAll(res, signal, call);
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return { status, body: this.#parseJson(text, call), headers: res.headers };
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* an accepted status with a non-JSON body: give the text */ }
      return { status, body, headers: res.headers };
    }, true);
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
    await this.#perform(call, (res, signal) => this.#readLines(res, signal, call, onEvent), false);
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
        const text = await this.#readAll(res, deadline.signal, call);
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
        throw this.#statusError(call, what, status, text, res.headers);
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
        const mapped = this.#networkError(what, err);
        const code = (err as { code?: string }).code;
        if (req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) STALE.add(mapped);
        reject(mapped);
      });
      req.end(body);
    });
  }

  #readAll(res: http.IncomingMessage, signal: AbortSignal, call: KubeCall): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (err?: unknown, text?: string) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(text!);
      };
      const onAbort = () => {
        res.destroy();
        finish(abortReason(signal));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy();
          finish(new ProtocolError(`${describe(call)}: response larger than ${MAX_RESPONSE_BYTES} bytes`, { retriable: false }));
          return;
        }
        chunks.push(c);
      });
      res.once('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => finish(err instanceof ClusterseedError ? err : this.#lostError(call, err)));
      res.once('close', () => {
        if (!res.complete) finish(this.#lostError(call));
      });
    });
  }

  #readLines(res: http.IncomingMessage, signal: AbortSignal, call: KubeCall, onEvent: (event: unknown) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let pending = '';
      let idle: NodeJS.Timeout | undefined;
      const decoder = new TextDecoder('utf-8');
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          res.destroy();
          reject(err);
        } else resolve();
      };
      const onAbort = () => finish(abortReason(signal));
      const armIdle = () => {
        if (call.idleTimeoutMs === undefined) return;
        clearTimeout(idle);
        idle = setTimeout(() => finish(new TimeoutError(`${describe(call)}: no data for ${call.idleTimeoutMs} ms`)), call.idleTimeoutMs);
        idle.unref();
      };
      const line = (text: string) => {
        const trimmed = text.trim();
        if (trimmed === '') return;
        let event: unknown;
        try {
          event = JSON.parse(trimmed);
        } catch {
          throw new ProtocolError(`${describe(call)}: a watch event is not valid JSON: ${JSON.stringify(this.#token.scrub(trimmed.slice(0, 120)))}`, {
            hint: 'is discovery.apiServer a Kubernetes API server (and not a proxy that rewrites streams)?',
          });
        }
        onEvent(event);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      armIdle();
      res.on('data', (c: Buffer) => {
        if (settled) return;
        armIdle();
        pending += decoder.decode(c, { stream: true });
        if (pending.length > MAX_RESPONSE_BYTES) return finish(new ProtocolError(`${describe(call)}: a watch event is larger than ${MAX_RESPONSE_BYTES} bytes`));
        let nl: number;
        try {
          while (!settled && (nl = pending.indexOf('\n')) >= 0) {
            const text = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            line(text);
          }
        } catch (err) {
          finish(err);
        }
      });
      res.once('end', () => {
        try {
          pending += decoder.decode();
          line(pending);
          finish();
        } catch (err) {
          finish(err);
        }
      });
      res.on('error', (err) => finish(err instanceof ClusterseedError ? err : this.#lostError(call, err)));
      res.once('close', () => {
        if (!res.complete) finish(this.#lostError(call));
      });
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

  #statusError(call: KubeCall, what: string, status: number, text: string, headers: http.IncomingHttpHeaders): Error {
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { /* not a Status */ }
    const st = parseKubeStatus(parsed);
    const detail = this.#token.scrub((st?.message ?? text).trim().replace(/\s+/g, ' ').slice(0, 300)) || `HTTP ${status}`;
    const namespace = namespaceOf(call.path);
    const rule = rbacRule(call.rbac, namespace);
    if (status === 401) {
      return new AuthError(`${what}: the API server rejected the service-account token (HTTP 401 ${st?.reason ?? 'Unauthorized'}), also after re-reading ${this.#token.file}`, {
        hint: `the token is invalid, expired or revoked: check the pod's serviceAccountName and that its token is mounted (discovery.tokenFile); ${rule}`,
      });
    }
    if (status === 403) {
      return new AuthError(`${what}: forbidden (HTTP 403): the service account may not "${call.rbac.verb}" "${call.rbac.resource}" in ${namespace === undefined ? 'the cluster scope' : `namespace "${namespace}"`}: ${detail}`, {
        hint: rule,
      });
    }
    if (status === 429) {
      const after = headers['retry-after'];
      return new ThrottledError(`${what}: the API server is throttling (HTTP 429${after ? `, Retry-After ${after}` : ''}) after ${MAX_THROTTLE_RETRIES} retries or the call's deadline`, {
        hint: 'the API server\'s priority and fairness limits are reached; the lookup is retried with back-off',
      });
    }
    const reason = st?.reason;
    return new KubernetesStatusError(`${what}: HTTP ${status}${reason ? ` ${reason}` : ''}: ${detail}`, status, reason, {
      hint: status >= 500 ? 'the API server failed; retried with back-off' : status === 404 ? 'check discovery.namespace and discovery.apiServer' : undefined,
    });
  }

  #networkError(what: string, err: Error): Error {
    const code = (err as { code?: string }).code;
    const tls = code === undefined ? undefined : TLS_REASONS[code];
    if (tls !== undefined || /certificate|self[- ]signed|altnames/i.test(err.message)) {
      return new DiscoveryError(`${what}: TLS verification of ${this.apiServer} failed: ${tls ?? err.message}${code ? ` (${code})` : ''}`, {
        cause: err,
        retriable: false,
        hint: 'the API server is always verified against discovery.caFile (in a pod: the service account\'s ca.crt); check that the file holds the cluster CA and that discovery.apiServer names a host in the server certificate. There is no insecure mode.',
      });
    }
    return new DiscoveryError(`${what}: cannot reach the API server ${this.apiServer}: ${code ?? err.message}`, {
      cause: err,
      hint: 'check discovery.apiServer (or KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT) and that the pod can reach the API server',
    });
  }

  #lostError(call: KubeCall, err?: Error): Error {
    if (this.#closed) return new AbortedError('kubernetes client closed');
    return new DiscoveryError(`${describe(call)}: the connection to ${this.apiServer} was lost while reading the response${err ? `: ${(err as { code?: string }).code ?? err.message}` : ''}`, { cause: err });
  }
}

/** Errors from a reused keep-alive socket that the server had closed. */
const STALE = new WeakSet<object>();

const TLS_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not the configured CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chains to a self-signed CA other than the configured one',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by the configured CA (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate is issued by a CA that is not the configured one (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT: 'the server certificate is issued by an unknown CA',
  CERT_SIGNATURE_FAILURE: 'the server certificate has a bad signature',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not valid yet (check the clock)',
  CERT_REVOKED: 'the server certificate is revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname mismatch: the server certificate does not name this host',
  HOSTNAME_MISMATCH: 'hostname mismatch: the server certificate does not name this host',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS there (wrong port, or plain http?)',
  EPROTO: 'the TLS handshake failed',
};

/** The sentence an AuthError's hint carries: the Role rule clusterseed needs for this call. */
export function rbacRule(rbac: KubeCall['rbac'], namespace: string | undefined): string {
  const verbs = ROLE_VERBS[`${rbac.apiGroup}/${rbac.resource}`] ?? [rbac.verb];
  const all = verbs.includes(rbac.verb) ? verbs : [...verbs, rbac.verb];
  const where = namespace === undefined ? 'cluster-wide (a ClusterRole)' : `in namespace "${namespace}"`;
  return `the service account needs "${rbac.verb}" on "${rbac.resource}" ${where} (a Role with apiGroups [${JSON.stringify(rbac.apiGroup)}], resources [${JSON.stringify(rbac.resource)}], verbs [${all.map((v) => JSON.stringify(v)).join(',')}], and a RoleBinding to the pod's service account; see ${DOCS})`;
}

/** Everything clusterseed needs of each resource, so one fix grants the whole rule. */
const ROLE_VERBS: Record<string, string[]> = {
  '/pods': ['list', 'watch'],
  'coordination.k8s.io/leases': ['get', 'create', 'update'],
};

function namespaceOf(path: string): string | undefined {
  const m = /\/namespaces\/([^/?]+)\//.exec(path);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

function describe(call: KubeCall): string {
  return `kubernetes ${call.method} ${call.path}`;
}

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function queryString(query: KubeCall['query']): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

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
    throw new ConfigError(`discovery.caFile: cannot read the cluster CA ${config.caFile}: ${code === 'ENOENT' ? 'no such file' : code ?? (err as Error).message}`, {
      cause: err,
      hint: 'run in a pod with its service account mounted (ca.crt), or set discovery.caFile to the PEM of the CA that signed the API server certificate; TLS is always verified',
    });
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) {
    throw new ConfigError(`discovery.caFile: ${config.caFile} holds no PEM certificate`, { hint: 'it must hold the cluster CA in PEM form (-----BEGIN CERTIFICATE-----)' });
  }
  const token = new ServiceAccountToken(config.tokenFile, { ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.logger ? { logger: deps.logger } : {}) });
  await token.load();
  return new KubernetesClient({ apiServer: config.apiServer, namespace: config.namespace, ca, token, ...(deps.clock ? { clock: deps.clock } : {}), ...(deps.logger ? { logger: deps.logger } : {}) });
}

import type { z } from 'zod';
import { parseHostPort, formatHostPort } from '../../src/address.js';
import { abortReason } from '../../src/backoff.js';
import { AuthError, ConfigError, DiscoveryError, ProtocolError, ThrottledError } from '../../src/errors.js';
import { withDeadline } from '../../src/signal.js';
import { checkWireShape } from '../../src/wire.js';

/*
 * A thin typed Consul HTTP client on node's fetch. The npm `consul` client (v2, on papi) was not used
 * because it cannot take an AbortSignal (only an EventEmitter `ctx` with a 'cancel' event), hides the
 * X-Consul-Index header unless asked for the raw response, and reports 403s and malformed JSON as
 * untyped errors; every call here has a deadline and a signal, and failures are typed.
 * The ACL token travels only in the X-Consul-Token header: never in a URL, a log line or an error.
 */

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface ConsulEndpoint {
  /** e.g. http://127.0.0.1:8500 — no credentials in it. */
  baseUrl: string;
  token?: string;
}

/** options host/port/secure win over CONSUL_HTTP_ADDR / CONSUL_HTTP_SSL; defaults 127.0.0.1:8500 over http. */
export function consulEndpoint(
  options: { host?: string; port?: number; secure: boolean; token?: string },
  env: Readonly<Record<string, string | undefined>>,
): ConsulEndpoint {
  let host = '127.0.0.1';
  let port = 8500;
  let secure = options.secure || env.CONSUL_HTTP_SSL === 'true' || env.CONSUL_HTTP_SSL === '1';
  const addr = env.CONSUL_HTTP_ADDR?.trim();
  if (addr) {
    const m = addr.match(/^([a-z][a-z0-9+.-]*):\/\/(.*)$/i);
    if (m && !/^https?$/i.test(m[1]!)) {
      throw new ConfigError(`CONSUL_HTTP_ADDR: scheme "${m[1]}" is not supported`, { hint: 'use host:port, http://host:port or https://host:port' });
    }
    if (m?.[1]?.toLowerCase() === 'https') secure = true;
    try {
      const hp = parseHostPort((m ? m[2]! : addr).replace(/\/+$/, ''));
      host = hp.host;
      if (hp.port !== undefined) port = hp.port;
    } catch (err) {
      throw new ConfigError(`CONSUL_HTTP_ADDR: ${(err as Error).message}`, { hint: 'use host:port, http://host:port or https://host:port' });
    }
  }
  if (options.host !== undefined) host = options.host;
  if (options.port !== undefined) port = options.port;
  const token = options.token ?? (env.CONSUL_HTTP_TOKEN?.trim() || undefined);
  const endpoint: ConsulEndpoint = { baseUrl: `${secure ? 'https' : 'http'}://${formatHostPort({ host, port })}` };
  if (token !== undefined) endpoint.token = token;
  return endpoint;
}

export type Query = Record<string, string | readonly string[] | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  body?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for a missing key). */
  accept?: readonly number[];
}

export interface ConsulResponse {
  status: number;
  text: string;
  /** X-Consul-Index, when the endpoint sends one. */
  index: number | undefined;
  headers: Headers;
}

export class ConsulHttp {
  constructor(readonly endpoint: ConsulEndpoint, readonly defaultTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {}

  /** `path` starts with /v1/…; segments must already be encoded (see kvPath / encodeSegment). */
  async call(method: 'GET' | 'PUT' | 'DELETE', path: string, options: CallOptions = {}): Promise<ConsulResponse> {
    const what = `consul ${method} ${path}`;
    const deadline = withDeadline(what, options.timeoutMs ?? this.defaultTimeoutMs, options.signal);
    const url = this.endpoint.baseUrl + path + queryString(options.query);
    const headers: Record<string, string> = {};
    if (this.endpoint.token !== undefined) headers['X-Consul-Token'] = this.endpoint.token;
    try {
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body: options.body, signal: deadline.signal });
      } catch (err) {
        if (deadline.signal.aborted) throw abortReason(deadline.signal);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new DiscoveryError(`${what}: cannot reach ${this.endpoint.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, {
          cause: err,
          hint: 'check that a Consul agent listens there (options host/port/secure or CONSUL_HTTP_ADDR)',
        });
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        if (deadline.signal.aborted) throw abortReason(deadline.signal);
        throw new DiscoveryError(`${what}: connection lost while reading the response`, { cause: err });
      }
      const indexHeader = res.headers.get('x-consul-index');
      const index = indexHeader !== null && /^\d+$/.test(indexHeader) ? Number(indexHeader) : undefined;
      const response = { status: res.status, text, index, headers: res.headers };
      if (res.ok || options.accept?.includes(res.status)) return response;
      throw this.#statusError(what, res.status, text);
    } finally {
      deadline.dispose();
    }
  }

  /** A call whose body must match `schema`; a mismatch is a ProtocolError naming the field. */
  async json<S extends z.ZodType>(schema: S, method: 'GET' | 'PUT' | 'DELETE', path: string, options: CallOptions = {}): Promise<{ value: z.output<S>; response: ConsulResponse }> {
    const response = await this.call(method, path, options);
    return { value: parseBody(schema, response.text, `consul ${method} ${path}`), response };
  }

  #statusError(what: string, status: number, text: string): Error {
    const detail = this.#scrub(text.trim().slice(0, 200)) || `HTTP ${status}`;
    if (status === 403) {
      return new AuthError(`${what}: ${detail} (HTTP 403)`, {
        hint: this.endpoint.token === undefined
          ? 'the agent enforces ACLs: set the token (option "token" or CONSUL_HTTP_TOKEN)'
          : 'the ACL token is unknown or its policy lacks this permission; see docs/providers/consul.md for the minimal policy',
      });
    }
    if (status === 429) return new ThrottledError(`${what}: rate limited (HTTP 429)`, { hint: 'Consul rate limits this client; calls are retried with back-off' });
    if (status >= 500) return new DiscoveryError(`${what}: ${detail} (HTTP ${status})`, { hint: 'the Consul agent failed; check its logs and its connection to the servers' });
    return new DiscoveryError(`${what}: ${detail} (HTTP ${status})`, { retriable: false, hint: 'the agent rejected the request; check the consul options' });
  }

  /** Consul error bodies do not echo tokens, but never risk it. */
  #scrub(text: string): string {
    const token = this.endpoint.token;
    return token ? text.split(token).join('[redacted]') : text;
  }
}

export function parseBody<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError(`${what}: response is not valid JSON`, { hint: 'is CONSUL_HTTP_ADDR pointing at a Consul agent (and not a proxy or another service)?' });
  }
  return checkWireShape(schema, raw, what, 'the agent answered in an unexpected format; check that it is a Consul agent (1.x)');
}

/** Encodes each segment of a KV key, keeping the slashes. */
export function kvPath(key: string): string {
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export function encodeSegment(s: string): string {
  return encodeURIComponent(s);
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === false) continue;
    if (v === true) parts.push(encodeURIComponent(k));
    else if (typeof v === 'string') parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
    else for (const item of v) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(item)}`);
  }
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

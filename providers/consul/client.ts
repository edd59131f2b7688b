import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { z } from 'zod';
import { parseHostPort, formatHostPort } from '../../src/address.js';
import { abortReason } from '../../src/backoff.js';
import { AuthError, ClusterseedError, ConfigError, DiscoveryError, ProtocolError, ThrottledError } from '../../src/errors.js';
import { withDeadline } from '../../src/signal.js';
import { checkWireShape } from '../../src/wire.js';

/*
 * A thin typed Consul HTTP client on node:http / node:https. The npm `consul` client (v2, on papi) was
 * not used because it cannot take an AbortSignal (only an EventEmitter `ctx` with a 'cancel' event),
 * hides the X-Consul-Index header unless asked for the raw response, and reports 403s and malformed
 * JSON as untyped errors; every call here has a deadline and a signal, and failures are typed.
 * Node's global fetch was used before TLS: it cannot take a CA, a client certificate or a server name
 * without undici's Agent (not a dependency), so the transport is node:https with `ca`, `cert`, `key`
 * and `servername`. TLS verification is never disabled; a TLS failure is a DiscoveryError that says
 * TLS and why.
 * The ACL token travels only in the X-Consul-Token header: never in a URL, a log line or an error.
 */

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Larger answers are a ProtocolError, not an out-of-memory (a health list of 10k instances is ~10 MB). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface ConsulTls {
  /** PEM CA bundle the agent's certificate must chain to; absent: the system CAs. */
  ca?: Buffer;
  /** Client certificate and key (mutual TLS). */
  cert?: Buffer;
  key?: Buffer;
  /** Name the agent's certificate must carry (and SNI) when it differs from the dialled host. */
  servername?: string;
  /** Where the CA and the client certificate came from, for messages (option or variable, and path). */
  caSource?: string;
  certSource?: string;
}

export interface ConsulEndpoint {
  /** e.g. http://127.0.0.1:8500 — no credentials in it. */
  baseUrl: string;
  token?: string;
  /** Present exactly when baseUrl is https. */
  tls?: ConsulTls;
}

export interface ConsulEndpointOptions {
  host?: string;
  port?: number;
  secure: boolean;
  token?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  tlsServerName?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Go's strconv.ParseBool, as Consul reads CONSUL_HTTP_SSL. */
function envBool(env: Env, name: string): boolean | undefined {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return undefined;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(v)}`, { hint: `unset ${name} or set it to true or false` });
}

const envValue = (env: Env, name: string) => env[name]?.trim() || undefined;

/**
 * Options win over the environment: host/port/secure over CONSUL_HTTP_ADDR / CONSUL_HTTP_SSL, and
 * caFile, certFile+keyFile, tlsServerName over CONSUL_CACERT, CONSUL_CLIENT_CERT+CONSUL_CLIENT_KEY,
 * CONSUL_TLS_SERVER_NAME; defaults 127.0.0.1:8500 over http. TLS settings given as options mean
 * https (a CA for a plain-http agent would otherwise be silently unused); the variables apply only
 * when TLS is on, as in Consul's CLI. The files are read here, before any connection: a missing or
 * unreadable file, or a certificate and key that do not belong together, is a ConfigError naming
 * the option or variable.
 */
export function consulEndpoint(options: ConsulEndpointOptions, env: Env): ConsulEndpoint {
  let host = '127.0.0.1';
  let port = 8500;
  const tlsOptions = options.caFile !== undefined || options.certFile !== undefined || options.keyFile !== undefined || options.tlsServerName !== undefined;
  let secure = options.secure || tlsOptions || envBool(env, 'CONSUL_HTTP_SSL') === true;
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
  if (secure) endpoint.tls = tlsSettings(options, env);
  return endpoint;
}

function tlsSettings(options: ConsulEndpointOptions, env: Env): ConsulTls {
  const out: ConsulTls = {};
  const ca =
    options.caFile !== undefined
      ? { file: options.caFile, source: 'discovery.caFile' }
      : envValue(env, 'CONSUL_CACERT') !== undefined
        ? { file: envValue(env, 'CONSUL_CACERT')!, source: 'CONSUL_CACERT' }
        : undefined;
  if (ca) {
    out.ca = readPem(ca.file, ca.source, /-----BEGIN CERTIFICATE-----/, 'PEM certificate (-----BEGIN CERTIFICATE-----)');
    out.caSource = `${ca.source} ${ca.file}`;
  }
  // The pair travels together: options (the schema requires both) or both variables.
  let pair: { cert: string; key: string; certSource: string; keySource: string } | undefined;
  if (options.certFile !== undefined || options.keyFile !== undefined) {
    if (options.certFile === undefined || options.keyFile === undefined) {
      throw new ConfigError(
        `discovery.${options.certFile === undefined ? 'certFile' : 'keyFile'}: required with ` +
          `discovery.${options.certFile === undefined ? 'keyFile' : 'certFile'}`,
        {
          hint: 'a client certificate needs its key: set both certFile and keyFile, or neither',
        },
      );
    }
    pair = { cert: options.certFile, key: options.keyFile, certSource: 'discovery.certFile', keySource: 'discovery.keyFile' };
  } else {
    const cert = envValue(env, 'CONSUL_CLIENT_CERT');
    const key = envValue(env, 'CONSUL_CLIENT_KEY');
    if ((cert === undefined) !== (key === undefined)) {
      const [missing, given] = cert === undefined ? ['CONSUL_CLIENT_CERT', 'CONSUL_CLIENT_KEY'] : ['CONSUL_CLIENT_KEY', 'CONSUL_CLIENT_CERT'];
      throw new ConfigError(`${missing}: required with ${given}`, {
        hint: 'a client certificate needs its key: set both CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY, or neither',
      });
    }
    if (cert !== undefined && key !== undefined) pair = { cert, key, certSource: 'CONSUL_CLIENT_CERT', keySource: 'CONSUL_CLIENT_KEY' };
  }
  if (pair) {
    out.cert = readPem(pair.cert, pair.certSource, /-----BEGIN CERTIFICATE-----/, 'PEM certificate (-----BEGIN CERTIFICATE-----)');
    out.key = readPem(pair.key, pair.keySource, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'PEM private key (-----BEGIN … PRIVATE KEY-----)');
    out.certSource = `${pair.certSource} ${pair.cert}`;
  }
  const servername = options.tlsServerName ?? envValue(env, 'CONSUL_TLS_SERVER_NAME');
  if (servername !== undefined) {
    if (net.isIP(servername)) {
      throw new ConfigError(
        `${options.tlsServerName !== undefined ? 'discovery.tlsServerName' : 'CONSUL_TLS_SERVER_NAME'}: expected a DNS name, got the IP address ${servername}`,
        {
          hint:
            'a server name is a DNS name in the agent certificate; ' +
            'an agent dialled by IP is verified against the IP addresses in its certificate without it',
        },
      );
    }
    out.servername = servername;
  }
  try {
    // Parses the PEMs and checks that the key belongs to the certificate, before any connection.
    tls.createSecureContext({ ...(out.ca ? { ca: out.ca } : {}), ...(out.cert ? { cert: out.cert, key: out.key } : {}) });
  } catch (err) {
    const what = out.cert ? `${out.certSource} / ${pair!.keySource} ${pair!.key}` : out.caSource!;
    throw new ConfigError(`${what}: cannot be used for TLS: ${(err as Error).message}`, {
      cause: err,
      hint: 'check that the files hold PEM data and that the key is the one the certificate was issued for',
    });
  }
  return out;
}

function readPem(file: string, source: string, marker: RegExp, expected: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${source}: file ${JSON.stringify(file)} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}`,
      {
        cause: err,
        hint: source.startsWith('discovery.') ? `fix discovery.${source.slice(10)}` : `fix or unset ${source}`,
      },
    );
  }
  if (!marker.test(data.toString('latin1'))) {
    throw new ConfigError(`${source}: ${JSON.stringify(file)} holds no ${expected}`, { hint: 'Consul and clusterseed read PEM files' });
  }
  return data;
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

/** An error of a keep-alive socket the agent had closed while idle: the request never reached it. */
class StaleSocket extends Error {}

export class ConsulHttp {
  readonly #url: URL;
  readonly #agent: http.Agent;
  readonly #secure: boolean;
  #closed = false;

  constructor(
    readonly endpoint: ConsulEndpoint,
    readonly defaultTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ) {
    this.#url = new URL(endpoint.baseUrl);
    this.#secure = this.#url.protocol === 'https:';
    if (this.#secure) {
      const t = endpoint.tls ?? {};
      const host = this.#url.hostname.replace(/^\[(.*)\]$/, '$1');
      // SNI carries host names only (RFC 6066); an agent dialled by IP is verified against its IP SANs.
      const servername = t.servername ?? (net.isIP(host) ? undefined : host);
      this.#agent = new https.Agent({
        keepAlive: true,
        rejectUnauthorized: true,
        ...(t.ca ? { ca: t.ca } : {}),
        ...(t.cert ? { cert: t.cert, key: t.key } : {}),
        ...(servername !== undefined ? { servername } : {}),
      });
    } else {
      this.#agent = new http.Agent({ keepAlive: true });
    }
  }

  /** `path` starts with /v1/…; segments must already be encoded (see kvPath / encodeSegment). */
  async call(method: 'GET' | 'PUT' | 'DELETE', path: string, options: CallOptions = {}): Promise<ConsulResponse> {
    const what = `consul ${method} ${path}`;
    const deadline = withDeadline(what, options.timeoutMs ?? this.defaultTimeoutMs, options.signal);
    const headers: http.OutgoingHttpHeaders = {};
    if (this.endpoint.token !== undefined) headers['X-Consul-Token'] = this.endpoint.token;
    const body = options.body === undefined ? undefined : Buffer.from(options.body, 'utf8');
    if (body) headers['Content-Length'] = body.length;
    try {
      let raw: { status: number; headers: http.IncomingHttpHeaders; text: string };
      try {
        raw = await this.#send(method, path + queryString(options.query), headers, body, deadline.signal, what);
      } catch (err) {
        // A keep-alive socket the agent closed while idle: the request never got there; send it once more on a new one.
        if (!(err instanceof StaleSocket)) throw err;
        raw = await this.#send(method, path + queryString(options.query), headers, body, deadline.signal, what, true);
      }
      const responseHeaders = toHeaders(raw.headers);
      const indexHeader = responseHeaders.get('x-consul-index');
      const index = indexHeader !== null && /^\d+$/.test(indexHeader) ? Number(indexHeader) : undefined;
      const response = { status: raw.status, text: raw.text, index, headers: responseHeaders };
      if ((raw.status >= 200 && raw.status < 300) || options.accept?.includes(raw.status)) return response;
      throw this.#statusError(what, raw.status, raw.text);
    } finally {
      deadline.dispose();
    }
  }

  /** A call whose body must match `schema`; a mismatch is a ProtocolError naming the field. */
  async json<S extends z.ZodType>(
    schema: S,
    method: 'GET' | 'PUT' | 'DELETE',
    path: string,
    options: CallOptions = {},
  ): Promise<{ value: z.output<S>; response: ConsulResponse }> {
    const response = await this.call(method, path, options);
    return { value: parseBody(schema, response.text, `consul ${method} ${path}`), response };
  }

  /** Ends the kept-alive connections; calls after this fail. */
  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }

  #send(
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body: Buffer | undefined,
    signal: AbortSignal,
    what: string,
    fresh = false,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal));
      if (this.#closed) return reject(new DiscoveryError(`${what}: the provider is closed`, { retriable: false }));
      let settled = false;
      const finish = (err: unknown, value?: { status: number; headers: http.IncomingHttpHeaders; text: string }) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve(value!);
        else reject(err);
      };
      const request = (this.#secure ? https.request : http.request)({
        agent: fresh ? false : this.#agent,
        ...(fresh && this.#secure ? this.#tlsOptions() : {}),
        protocol: this.#url.protocol,
        hostname: this.#url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: this.#url.port || (this.#secure ? 443 : 80),
        method,
        path,
        headers,
      });
      const onAbort = () => {
        request.destroy();
        finish(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // A TLS 1.3 server checks the client certificate after the client's handshake is done; one that
      // refuses it may close the connection without an alert (Node does), so a reset on a connection
      // just made, before any answer, is reported as TLS.
      let handshaken = false;
      request.on('socket', (socket) => {
        if (this.#secure)
          socket.once('secureConnect', () => {
            handshaken = true;
          });
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        if (signal.aborted) return finish(abortReason(signal));
        const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
        if (!fresh && request.reusedSocket && reset) return finish(new StaleSocket());
        finish(this.#networkError(what, err, handshaken && reset));
      });
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            finish(new ProtocolError(`${what}: response larger than ${MAX_RESPONSE_BYTES} bytes`, { hint: 'is CONSUL_HTTP_ADDR pointing at a Consul agent?' }));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(signal.aborted ? abortReason(signal) : this.#lostError(what, err)));
        res.on('close', () => {
          if (!res.complete) finish(signal.aborted ? abortReason(signal) : this.#lostError(what));
        });
      });
      request.end(body);
    });
  }

  /** A one-off connection (no agent) needs the agent's TLS settings itself. */
  #tlsOptions(): https.RequestOptions {
    const o = (this.#agent as https.Agent).options;
    return { ca: o.ca, cert: o.cert, key: o.key, servername: o.servername, rejectUnauthorized: true };
  }

  #lostError(what: string, err?: Error): Error {
    return new DiscoveryError(`${what}: connection lost while reading the response${err ? `: ${(err as NodeJS.ErrnoException).code ?? err.message}` : ''}`, {
      cause: err,
    });
  }

  #networkError(what: string, err: NodeJS.ErrnoException, closedAfterHandshake = false): Error {
    if (err instanceof ClusterseedError) return err;
    const base = this.endpoint.baseUrl;
    const refused = this.endpoint.tls?.cert
      ? 'the client certificate (not issued by a CA it trusts, expired, or not for client authentication)'
      : 'the connection, most likely because it requires a client certificate and none was presented';
    const reason = !this.#secure
      ? undefined
      : closedAfterHandshake
        ? `the agent closed the connection right after the handshake: it refused ${refused}`
        : tlsReason(err);
    if (reason !== undefined) {
      const t = this.endpoint.tls ?? {};
      const ca = t.caSource ?? 'the system CAs (set discovery.caFile or CONSUL_CACERT to the CA that signed the agent certificate)';
      const forName = t.servername ? ` for the name "${t.servername}"` : '';
      const clientCert = t.certSource
        ? `the client certificate is ${t.certSource}`
        : 'no client certificate is presented (discovery.certFile/keyFile or CONSUL_CLIENT_CERT/CONSUL_CLIENT_KEY)';
      return new DiscoveryError(`${what}: TLS with ${base} failed: ${reason}${err.code ? ` (${err.code})` : ''}`, {
        cause: err,
        retriable: false,
        hint: `the agent is verified against ${ca}${forName}; ${clientCert}. TLS verification is never disabled; see docs/providers/consul.md#tls`,
      });
    }
    const code = err.code ?? err.message;
    return new DiscoveryError(`${what}: cannot reach ${base}: ${code}`, {
      cause: err,
      hint:
        !this.#secure && (err.code === 'ECONNRESET' || /socket hang up/.test(err.message))
          ? 'the agent closed the connection: if it serves HTTPS, set secure (or CONSUL_HTTP_SSL=true, or an https:// CONSUL_HTTP_ADDR)'
          : 'check that a Consul agent listens there (options host/port/secure or CONSUL_HTTP_ADDR)',
    });
  }

  #statusError(what: string, status: number, text: string): Error {
    const detail = this.#scrub(text.trim().slice(0, 200)) || `HTTP ${status}`;
    if (status === 403) {
      return new AuthError(`${what}: ${detail} (HTTP 403)`, {
        hint:
          this.endpoint.token === undefined
            ? 'the agent enforces ACLs: set the token (option "token" or CONSUL_HTTP_TOKEN)'
            : 'the ACL token is unknown or its policy lacks this permission; see docs/providers/consul.md for the minimal policy',
      });
    }
    if (status === 429)
      return new ThrottledError(`${what}: rate limited (HTTP 429)`, { hint: 'Consul rate limits this client; calls are retried with back-off' });
    if (status >= 500)
      return new DiscoveryError(`${what}: ${detail} (HTTP ${status})`, { hint: 'the Consul agent failed; check its logs and its connection to the servers' });
    if (status === 400 && this.#secure === false && /https|TLS|Client sent an HTTP request to an HTTPS server/i.test(text)) {
      return new DiscoveryError(`${what}: ${detail} (HTTP 400)`, {
        retriable: false,
        hint: 'the agent serves HTTPS: set secure (or CONSUL_HTTP_SSL=true, or an https:// CONSUL_HTTP_ADDR)',
      });
    }
    return new DiscoveryError(`${what}: ${detail} (HTTP ${status})`, { retriable: false, hint: 'the agent rejected the request; check the consul options' });
  }

  /** Consul error bodies do not echo tokens, but never risk it. */
  #scrub(text: string): string {
    const token = this.endpoint.token;
    return token ? text.split(token).join('[redacted]') : text;
  }
}

/** Why a TLS connection failed, in words; undefined for errors that are not about TLS. */
export function tlsReason(err: NodeJS.ErrnoException): string | undefined {
  const code = err.code ?? '';
  const known = TLS_REASONS[code];
  if (known !== undefined) return known;
  const alert = /alert (?:number \d+|[a-z ]+)/i.exec(err.message)?.[0];
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /certificate|self[- ]signed|altnames|SSL routines|handshake/i.test(err.message)) {
    return `the TLS handshake failed${alert ? ` (the agent sent "${alert}")` : `: ${err.message}`}`;
  }
  return undefined;
}

const TLS_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the agent certificate is self-signed and not the configured CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the agent certificate chains to a self-signed CA other than the configured one (unknown CA)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the agent certificate is not signed by the configured CA (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the agent certificate is issued by a CA that is not the configured one (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT: 'the agent certificate is issued by an unknown CA',
  CERT_SIGNATURE_FAILURE: 'the agent certificate has a bad signature',
  CERT_HAS_EXPIRED: 'the agent certificate has expired',
  CERT_NOT_YET_VALID: 'the agent certificate is not valid yet (check the clock)',
  CERT_REVOKED: 'the agent certificate is revoked',
  ERR_TLS_CERT_ALTNAME_INVALID:
    'hostname mismatch: the agent certificate does not name the host dialled (set tlsServerName or CONSUL_TLS_SERVER_NAME to a name it carries)',
  HOSTNAME_MISMATCH:
    'hostname mismatch: the agent certificate does not name the host dialled (set tlsServerName or CONSUL_TLS_SERVER_NAME to a name it carries)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the agent does not speak TLS there (plain http on that port?)',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the agent does not speak TLS there (plain http on that port?)',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    'the agent requires a client certificate and none was presented (set certFile and keyFile, or CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'the agent refused the handshake (it may require a client certificate)',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the agent does not trust the client certificate (issued by a CA it does not know)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the agent rejected the client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the agent rejected the client certificate: it has expired',
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: 'the agent rejected the client certificate (not usable for client authentication)',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'the agent denied access to the client certificate',
};

function toHeaders(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else headers.set(k, v);
  }
  return headers;
}

export function parseBody<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError(`${what}: response is not valid JSON`, {
      hint: 'is CONSUL_HTTP_ADDR pointing at a Consul agent (and not a proxy or another service)?',
    });
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

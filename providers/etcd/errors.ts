import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import {
  EtcdAuthenticationFailedError,
  EtcdError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
  GRPCFailedPreconditionError,
} from 'etcd3';
import { AuthError, ClusterseedError, DiscoveryError } from '../../src/errors.js';
import type { EtcdSettings } from './settings.js';

/*
 * Typed errors for failed etcd calls. Auth failures are recognised by etcd3's error classes (it maps
 * etcd's gRPC status to them), never by a pattern over messages. A connection failure on an https://
 * client is explained by one TLS handshake of our own with the same files (node:tls error codes say
 * why: unknown CA, expired certificate, client certificate refused…), because gRPC reports all of
 * them as "14 UNAVAILABLE". No message carries a password, a token or key material: etcd3's errors
 * do not, and ours name files and user names only.
 */

const ROLE_HINT = (s: EtcdSettings) =>
  `grant the user's role readwrite on the key prefix "${s.prefix}" (resolve alone needs read): ` +
  `etcdctl role grant-permission <role> --prefix=true readwrite ${s.prefix} ; etcdctl user grant-role <user> <role>` +
  (s.auth ? '' : '; or set discovery.username and discovery.password (ETCDCTL_USER=user:password)');

function commonName(pem: Buffer): string | undefined {
  try {
    return /(?:^|\n)CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1];
  } catch {
    return undefined;
  }
}

/** The etcd user a call runs as: the configured one, else (etcd --client-cert-auth) the client certificate's CN. */
function who(s: EtcdSettings): string {
  if (s.auth) return `user "${s.auth.username}" (${s.auth.source})`;
  if (s.cert) {
    const cn = commonName(s.cert.pem);
    return `${cn === undefined ? "the user named by the client certificate's CN" : `user "${cn}" (the CN of ${s.cert.source}; no username is configured)`}`;
  }
  return 'no user';
}

/** etcd's own messages for two auth conditions etcd3 has no class for (gRPC InvalidArgument / FailedPrecondition). */
const USER_EMPTY = 'etcdserver: user name is empty';
const AUTH_NOT_ENABLED = 'etcdserver: authentication is not enabled';

/** The typed error for a failed etcd call (sync: no TLS diagnosis, see explainEtcdError). */
export function classifyEtcdError(what: string, err: unknown, s: EtcdSettings): ClusterseedError {
  if (err instanceof ClusterseedError) return err;
  if (err instanceof EtcdAuthenticationFailedError) {
    return new AuthError(`etcd: ${what}: authentication failed for ${who(s)}: wrong user name or password`, {
      cause: err,
      hint: `check ${s.auth?.source === 'ETCDCTL_USER' ? 'ETCDCTL_USER (user:password)' : 'discovery.username and discovery.password'}`,
    });
  }
  if (err instanceof EtcdPermissionDeniedError) {
    return new AuthError(`etcd: ${what}: permission denied for ${who(s)}`, { cause: err, hint: ROLE_HINT(s) });
  }
  if (err instanceof EtcdInvalidAuthTokenError) {
    return new AuthError(`etcd: ${what}: etcd rejected the auth token of ${who(s)} (expired or revoked, and signing in again failed)`, {
      cause: err,
      hint: 'check that the user still exists and its password is unchanged',
    });
  }
  if (err instanceof GRPCInvalidArgumentError && err.message.includes(USER_EMPTY)) {
    return new AuthError(`etcd: ${what}: etcd requires authentication and ${s.auth ? 'the user name is empty' : 'no user is configured'}`, {
      cause: err,
      hint: 'set discovery.username and discovery.password, or ETCDCTL_USER=user:password (or present a client certificate whose CN is an etcd user)',
    });
  }
  if (err instanceof GRPCFailedPreconditionError && err.message.includes(AUTH_NOT_ENABLED)) {
    return new AuthError(`etcd: ${what}: a user is configured (${s.auth?.source ?? 'username'}) but authentication is not enabled on this etcd`, {
      cause: err,
      hint: 'remove the user and password, or enable authentication (etcdctl auth enable)',
    });
  }
  const message = (err as Error)?.message ?? String(err);
  return new DiscoveryError(`etcd: ${what}: ${message}`, {
    cause: err,
    hint: `check that etcd is reachable at ${s.hosts.join(', ')}`,
  });
}

/** Server-side etcd answers: the connection worked, so TLS is not the problem. */
function isServerAnswer(err: unknown): boolean {
  return (
    err instanceof EtcdError ||
    err instanceof EtcdLeaseInvalidError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdInvalidAuthTokenError
  );
}

/**
 * classifyEtcdError, plus for an https:// client whose call never reached etcd: one TLS handshake of
 * our own (at most `budgetMs`) that says whether TLS is the cause and why.
 */
export async function explainEtcdError(what: string, err: unknown, s: EtcdSettings, budgetMs = 1500): Promise<ClusterseedError> {
  const typed = classifyEtcdError(what, err, s);
  if (!(typed instanceof DiscoveryError) || err instanceof ClusterseedError || isServerAnswer(err) || budgetMs < 50) return typed;
  const until = Date.now() + budgetMs;
  for (const host of s.hosts) {
    const left = until - Date.now();
    if (left < 50) break;
    if (!s.secure) {
      if (await speaksTls(host, left)) {
        return new DiscoveryError(
          `etcd: ${what}: ${host} answers with TLS but the endpoint is http://; use https:// (with caFile, certFile and keyFile as etcd requires)`,
          {
            cause: err,
            retriable: false,
            hint: 'etcd serves clients over TLS when it runs with --cert-file: write the endpoints as https://host:port',
          },
        );
      }
      continue;
    }
    const failure = await probeTls(host, s, left);
    if (failure) return tlsError(what, host, failure, s, err);
  }
  return typed;
}

/** Whether a TLS handshake (nothing verified: it is never used for data) gets a TLS answer at an http:// endpoint. */
function speaksTls(host: string, budgetMs: number): Promise<boolean> {
  const url = new URL(host.replace(/^http:/, 'https:'));
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const finish = (yes: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => finish(false), budgetMs);
    const socket = tls.connect({ host: hostname, port: Number(url.port || 80), rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    socket.on('secureConnect', () => finish(true));
    // An alert from the server is a TLS answer too (it wanted a client certificate, say).
    socket.on('error', (e: NodeJS.ErrnoException) => finish(/^ERR_SSL_.*ALERT/.test(e.code ?? '')));
  });
}

export interface TlsFailure {
  /** `server`: we refused the server's certificate; `client`: the server refused us. */
  side: 'server' | 'client';
  code: string;
  message: string;
}

/** One handshake plus an HTTP/2 preface (a TLS 1.3 server refuses a client certificate only after the handshake). */
export function probeTls(host: string, s: EtcdSettings, budgetMs: number): Promise<TlsFailure | undefined> {
  const url = new URL(host);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: TlsFailure | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish(undefined), budgetMs);
    const socket = tls.connect({
      host: hostname,
      port,
      ...(net.isIP(hostname) ? {} : { servername: hostname }),
      ALPNProtocols: ['h2'],
      ...(s.ca ? { ca: s.ca.pem } : {}),
      ...(s.cert && s.key ? { cert: s.cert.pem, key: s.key.pem } : {}),
    });
    socket.on('secureConnect', () => {
      // Client preface and an empty SETTINGS frame: the server answers with its SETTINGS, or alerts.
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    socket.on('data', () => finish(undefined));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ?? '';
      if (SERVER_CERT_REASONS[code] !== undefined) finish({ side: 'server', code, message: SERVER_CERT_REASONS[code]! });
      else if (/^ERR_SSL_.*ALERT/.test(code)) finish({ side: 'client', code, message: e.message });
      else if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
        finish({ side: 'server', code, message: 'the server does not speak TLS there (plain http?)' });
      } else finish(undefined); // unreachable, reset…: not a TLS matter
    });
  });
}

const SERVER_CERT_REASONS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not signed by the trusted CA (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the server certificate is issued by a CA that is not trusted (unknown CA)',
  UNABLE_TO_GET_ISSUER_CERT: 'the server certificate is issued by an unknown CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate chains to a self-signed CA that is not trusted',
  CERT_SIGNATURE_FAILURE: 'the server certificate has a bad signature',
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  CERT_NOT_YET_VALID: 'the server certificate is not valid yet (check the clock)',
  CERT_REVOKED: 'the server certificate is revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname mismatch: the server certificate does not name this host or IP',
};

function clientCertReason(s: EtcdSettings, failure: TlsFailure): string {
  const alert = failure.code
    .replace(/^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, '')
    .toLowerCase()
    .replace(/_/g, ' ');
  if (!s.cert) return `the server requires a client certificate and none is configured (alert: ${alert})`;
  try {
    const cert = new X509Certificate(s.cert.pem);
    const now = Date.now();
    if (Date.parse(cert.validTo) < now)
      return `the server refused the client certificate ${s.cert.source}: it expired on ${new Date(cert.validTo).toISOString()} (alert: ${alert})`;
    if (Date.parse(cert.validFrom) > now)
      return `the server refused the client certificate ${s.cert.source}: it is not valid before ${new Date(cert.validFrom).toISOString()} (alert: ${alert})`;
  } catch {
    // checked at start-up; fall through to the generic reason
  }
  return (
    `the server refused the client certificate ${s.cert.source} (alert: ${alert}): ` +
    `is it signed by a CA in etcd's --trusted-ca-file, with extendedKeyUsage clientAuth?`
  );
}

function tlsError(what: string, host: string, failure: TlsFailure, s: EtcdSettings, cause: unknown): ClusterseedError {
  if (failure.side === 'server') {
    const against = s.ca ? `${s.ca.source} ${JSON.stringify(s.ca.value)}` : 'the system CAs (no caFile, no ETCDCTL_CACERT)';
    return new DiscoveryError(`etcd: ${what}: TLS handshake with ${host} failed: ${failure.message}; verified against ${against} (${failure.code})`, {
      cause,
      retriable: false,
      hint: "set discovery.caFile (or ETCDCTL_CACERT) to the CA that signed etcd's --cert-file, and use an endpoint host named in its subjectAltName",
    });
  }
  return new AuthError(`etcd: ${what}: TLS handshake with ${host} failed: ${clientCertReason(s, failure)} (${failure.code})`, {
    cause,
    hint:
      'etcd runs with --client-cert-auth: set discovery.certFile and keyFile (or ETCDCTL_CERT and ETCDCTL_KEY) ' +
      'to a valid client certificate signed by its --trusted-ca-file',
  });
}

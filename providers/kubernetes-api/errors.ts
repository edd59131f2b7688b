import type http from 'node:http';
import { AuthError, DiscoveryError, ThrottledError, type ClusterseedErrorOptions } from '../../src/errors.js';
import { describe, type KubeCall } from './call.js';
import type { ServiceAccountToken } from './token.js';

/*
 * How the Kubernetes client (client.ts, which lists the guarantees) turns a failed call into a typed
 * error: 401 → AuthError, 403 → AuthError naming the RBAC rule to add, 429 → ThrottledError, other
 * statuses → KubernetesStatusError (.status, .reason), socket and TLS failures → DiscoveryError
 * saying why. Texts from the server are scrubbed of every token read before they enter a message.
 */

/** 429 retries inside one call (the call's deadline bounds them too). */
export const MAX_THROTTLE_RETRIES = 3;
const DOCS = 'docs/providers/kubernetes-api.md';

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
  if (b.kind !== 'Status') return undefined;
  const out: KubeStatus = {};
  if (typeof b.code === 'number') out.code = b.code;
  if (typeof b.reason === 'string') out.reason = b.reason;
  if (typeof b.message === 'string') out.message = b.message;
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

/** The error for a status the call did not accept, once the client's retries (401, 429) are spent. */
export function statusError(
  call: KubeCall,
  status: number,
  text: string,
  headers: http.IncomingHttpHeaders,
  token: Pick<ServiceAccountToken, 'file' | 'scrub'>,
): Error {
  const what = describe(call);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not a Status */
  }
  const st = parseKubeStatus(parsed);
  const detail = token.scrub((st?.message ?? text).trim().replace(/\s+/g, ' ').slice(0, 300)) || `HTTP ${status}`;
  const namespace = namespaceOf(call.path);
  const rule = rbacRule(call.rbac, namespace);
  if (status === 401) {
    return new AuthError(
      `${what}: the API server rejected the service-account token (HTTP 401 ${st?.reason ?? 'Unauthorized'}), also after re-reading ${token.file}`,
      {
        hint: `the token is invalid, expired or revoked: check the pod's serviceAccountName and that its token is mounted (discovery.tokenFile); ${rule}`,
      },
    );
  }
  if (status === 403) {
    return new AuthError(
      `${what}: forbidden (HTTP 403): the service account may not "${call.rbac.verb}" "${call.rbac.resource}" ` +
        `in ${namespace === undefined ? 'the cluster scope' : `namespace "${namespace}"`}: ${detail}`,
      {
        hint: rule,
      },
    );
  }
  if (status === 429) {
    const after = headers['retry-after'];
    return new ThrottledError(
      `${what}: the API server is throttling (HTTP 429${after ? `, Retry-After ${after}` : ''}) after ${MAX_THROTTLE_RETRIES} retries or the call's deadline`,
      {
        hint: "the API server's priority and fairness limits are reached; the lookup is retried with back-off",
      },
    );
  }
  const reason = st?.reason;
  return new KubernetesStatusError(`${what}: HTTP ${status}${reason ? ` ${reason}` : ''}: ${detail}`, status, reason, {
    hint: status >= 500 ? 'the API server failed; retried with back-off' : status === 404 ? 'check discovery.namespace and discovery.apiServer' : undefined,
  });
}

/** A request that got no response: TLS verification (saying why) or the API server unreachable. */
export function networkError(apiServer: string, what: string, err: Error): Error {
  const code = (err as { code?: string }).code;
  const tls = code === undefined ? undefined : TLS_REASONS[code];
  if (tls !== undefined || /certificate|self[- ]signed|altnames/i.test(err.message)) {
    return new DiscoveryError(`${what}: TLS verification of ${apiServer} failed: ${tls ?? err.message}${code ? ` (${code})` : ''}`, {
      cause: err,
      retriable: false,
      hint:
        "the API server is always verified against discovery.caFile (in a pod: the service account's ca.crt); " +
        'check that the file holds the cluster CA and that discovery.apiServer names a host in the server certificate. ' +
        'There is no insecure mode.',
    });
  }
  return new DiscoveryError(`${what}: cannot reach the API server ${apiServer}: ${code ?? err.message}`, {
    cause: err,
    hint: 'check discovery.apiServer (or KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT) and that the pod can reach the API server',
  });
}

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
  return (
    `the service account needs "${rbac.verb}" on "${rbac.resource}" ${where} (a Role with apiGroups [${JSON.stringify(rbac.apiGroup)}], ` +
    `resources [${JSON.stringify(rbac.resource)}], verbs [${all.map((v) => JSON.stringify(v)).join(',')}], ` +
    `and a RoleBinding to the pod's service account; see ${DOCS})`
  );
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

/** Retry-After as delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

import type http from 'node:http';

/* One call of the Kubernetes client (client.ts) as its readers and error mapping see it. */

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

/** How errors and logs name a call. */
export function describe(call: KubeCall): string {
  return `kubernetes ${call.method} ${call.path}`;
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

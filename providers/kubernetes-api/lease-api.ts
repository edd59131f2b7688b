import { parseLease, type LeaseWire } from './lease-record.js';

/* The Lease calls of the lock (lease-lock.ts) and of the members list (lease-members.ts). */

export const LEASE_API = '/apis/coordination.k8s.io/v1';

/** What the lock needs of the Kubernetes client (providers/kubernetes-api/client.ts KubernetesClient). */
export interface LeaseApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
  rbac: { verb: string; resource: string; apiGroup: string };
  accept?: readonly number[];
}
export interface LeaseApi {
  request(call: LeaseApiCall): Promise<{ status: number; body: unknown }>;
}

/** Leases of one namespace, each call with the lock's timeout and the leases RBAC rule. */
export class Leases {
  readonly #api: LeaseApi;
  readonly #namespace: string;
  readonly #timeoutMs: () => number;

  constructor(api: LeaseApi, namespace: string, timeoutMs: () => number) {
    this.#api = api;
    this.#namespace = namespace;
    this.#timeoutMs = timeoutMs;
  }

  get namespace(): string {
    return this.#namespace;
  }

  call(verb: string, call: Omit<LeaseApiCall, 'rbac' | 'timeoutMs'>) {
    return this.#api.request({ ...call, timeoutMs: this.#timeoutMs(), rbac: { verb, resource: 'leases', apiGroup: 'coordination.k8s.io' } });
  }

  /** GET of Lease `name`; undefined on 404. */
  async get(name: string, signal?: AbortSignal): Promise<LeaseWire | undefined> {
    const res = await this.call('get', { method: 'GET', path: this.path(name), signal, accept: [404] });
    return res.status === 404 ? undefined : parseLease(res.body, name);
  }

  collection(): string {
    return `${LEASE_API}/namespaces/${encodeURIComponent(this.#namespace)}/leases`;
  }

  path(name: string): string {
    return `${this.collection()}/${encodeURIComponent(name)}`;
  }
}

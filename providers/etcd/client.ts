import { Etcd3, type Lease } from 'etcd3';
import { AuthError, DiscoveryError, ClusterseedError } from '../../src/errors.js';
import type { EtcdOptions } from './options.js';

/** Bound of one unary etcd call (streams — watch, keepalive — are long-lived by design). */
export const CALL_TIMEOUT_MS = 5000;

export function normalizeEndpoint(endpoint: string): string {
  return /^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`;
}

export function createEtcdClient(options: EtcdOptions): Etcd3 {
  return new Etcd3({
    hosts: options.endpoints.map(normalizeEndpoint),
    dialTimeout: CALL_TIMEOUT_MS,
    ...(options.username && options.password ? { auth: { username: options.username, password: options.password } } : {}),
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
  });
}

/** Typed error for a failed etcd call; never includes credentials (etcd3 errors do not carry them). */
export function etcdError(what: string, err: unknown): ClusterseedError {
  if (err instanceof ClusterseedError) return err;
  const name = (err as Error)?.name ?? '';
  const message = (err as Error)?.message ?? String(err);
  if (/auth|permission|password|token/i.test(name + message)) {
    return new AuthError(`etcd: ${what}: ${name || 'authentication failed'}`, {
      cause: err,
      hint: 'check username/password and the role permissions on the key prefix',
    });
  }
  return new DiscoveryError(`etcd: ${what}: ${message}`, {
    cause: err,
    hint: 'check that etcd is reachable at the configured endpoints',
  });
}

export type { Etcd3, Lease };

import { z } from 'zod';
import { intRange, NonEmptyString, ReadableFile } from '../../src/config/fields.js';

export const method = 'etcd';
export const aliases = [] as const;

/** `http://host:port`, `https://host:port` or `host:port` (https when a TLS file is configured, else http). */
export function endpointProblem(endpoint: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1];
  if (scheme !== undefined && !/^https?$/i.test(scheme)) {
    return `expected http://host:port, https://host:port or host:port, got ${JSON.stringify(endpoint)} (etcd3 speaks gRPC over http or https only)`;
  }
  const rest = scheme === undefined ? endpoint : endpoint.slice(scheme.length + 3);
  if (rest === '' || /[/?#\s]/.test(rest)) return `expected http://host:port, https://host:port or host:port, got ${JSON.stringify(endpoint)}`;
  return undefined;
}

export function endpointScheme(endpoint: string): 'http' | 'https' | undefined {
  const m = /^(https?):\/\//i.exec(endpoint);
  return m ? (m[1]!.toLowerCase() as 'http' | 'https') : undefined;
}

const Endpoint = NonEmptyString.superRefine((endpoint, ctx) => {
  const problem = endpointProblem(endpoint);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** The rules that involve several keys; also applied (by settings.ts) once ETCDCTL_* variables are merged in. */
export function tlsProblems(o: { endpoints?: readonly string[]; caFile?: string; certFile?: string; keyFile?: string }): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (o.certFile !== undefined && o.keyFile === undefined) {
    problems.push({ path: 'keyFile', message: 'required when certFile is set (a client certificate is presented with its private key)' });
  }
  if (o.keyFile !== undefined && o.certFile === undefined) {
    problems.push({ path: 'certFile', message: 'required when keyFile is set (a client certificate is presented with its private key)' });
  }
  const schemes = new Set((o.endpoints ?? []).map(endpointScheme).filter((s) => s !== undefined));
  if (schemes.size > 1) {
    problems.push({ path: 'endpoints', message: 'mixes http:// and https:// endpoints; one client speaks either TLS or plain gRPC to all of them' });
  } else if (schemes.has('http') && (o.caFile ?? o.certFile) !== undefined) {
    problems.push({
      path: o.caFile !== undefined ? 'caFile' : 'certFile',
      message: 'TLS files are set but the endpoints are http://; use https:// endpoints (or host:port, which then means https)',
    });
  }
  return problems;
}

export const EtcdOptions = z
  .strictObject({
    method: z.enum([method]),
    /** `https://127.0.0.1:2379`, `http://127.0.0.1:2379` or `127.0.0.1:2379`; absent: `ETCDCTL_ENDPOINTS`. */
    endpoints: z.array(Endpoint).min(1, { error: 'expected at least one etcd endpoint, e.g. ["http://127.0.0.1:2379"]' }).optional(),
    prefix: NonEmptyString.default('clusterseed/'),
    leaseTtlSeconds: intRange(2, 3600, ' s').default(5),
    /** With `password`; absent: `ETCDCTL_USER` (`user:password`). */
    username: NonEmptyString.optional(),
    /** Never logged, never in an error message. */
    password: NonEmptyString.optional(),
    /** PEM CA bundle that verifies the server (`https://`); absent: `ETCDCTL_CACERT`, else the system CAs. */
    caFile: ReadableFile.optional(),
    /** PEM client certificate, with `keyFile`; absent: `ETCDCTL_CERT`. */
    certFile: ReadableFile.optional(),
    /** PEM private key of `certFile`; absent: `ETCDCTL_KEY`. */
    keyFile: ReadableFile.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.username !== undefined && o.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'required when username is set (or give both in ETCDCTL_USER as user:password)' });
    }
    if (o.password !== undefined && o.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'required when password is set' });
    }
    for (const p of tlsProblems(o)) ctx.addIssue({ code: 'custom', path: [p.path], message: p.message });
  });
export type EtcdOptions = z.output<typeof EtcdOptions>;

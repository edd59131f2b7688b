/*
 * metav1.Status error bodies, worded as k8s.io/apimachinery/pkg/api/errors and the RBAC authorizer
 * word them (clients match on `reason` and `code`; humans read `message`).
 */

export interface GroupResource {
  group: string;
  resource: string;
}
export const PODS: GroupResource = { group: '', resource: 'pods' };
export const LEASES: GroupResource = { group: 'coordination.k8s.io', resource: 'leases' };
export const NAMESPACES: GroupResource = { group: '', resource: 'namespaces' };

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message));
  }
}

const qualified = (gr: GroupResource) => (gr.group ? `${gr.resource}.${gr.group}` : gr.resource);

function status(code: number, reason: string, message: string, details?: Record<string, unknown>, metadata: Record<string, unknown> = {}) {
  const body: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata, status: 'Failure', message, reason };
  if (details) body.details = details;
  body.code = code;
  return body;
}

function details(gr: GroupResource, name?: string): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  if (name) d.name = name;
  if (gr.group) d.group = gr.group;
  d.kind = gr.resource;
  return d;
}

export const unauthorized = () => new StatusError(401, status(401, 'Unauthorized', 'Unauthorized'));

export const SERVICE_ACCOUNT_USER = 'system:serviceaccount:default:default';

export function forbidden(gr: GroupResource, verb: string, namespace: string | undefined, name?: string, user = SERVICE_ACCOUNT_USER) {
  const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
  const why = `User "${user}" cannot ${verb} resource "${gr.resource}" in API group "${gr.group}" ${scope}`;
  const message = name ? `${qualified(gr)} "${name}" is forbidden: ${why}` : `${qualified(gr)} is forbidden: ${why}`;
  return new StatusError(403, status(403, 'Forbidden', message, details(gr, name)));
}

export const notFound = (gr: GroupResource, name: string) =>
  new StatusError(404, status(404, 'NotFound', `${qualified(gr)} "${name}" not found`, details(gr, name)));

export const pathNotFound = () => new StatusError(404, status(404, 'NotFound', 'the server could not find the requested resource', {}));

export const alreadyExists = (gr: GroupResource, name: string) =>
  new StatusError(409, status(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, details(gr, name)));

export const OPTIMISTIC_LOCK = 'the object has been modified; please apply your changes to the latest version and try again';

export const conflict = (gr: GroupResource, name: string, why = OPTIMISTIC_LOCK) =>
  new StatusError(409, status(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, details(gr, name)));

export function invalid(gr: GroupResource, name: string, field: string, valueText: string, detail: string) {
  const causeMessage = `Invalid value: ${valueText}: ${detail}`;
  return new StatusError(
    422,
    status(422, 'Invalid', `${qualified(gr)} "${name}" is invalid: ${field}: ${causeMessage}`, {
      ...details(gr, name),
      causes: [{ reason: 'FieldValueInvalid', message: causeMessage, field }],
    }),
  );
}

export const badRequest = (message: string) => new StatusError(400, status(400, 'BadRequest', message));

export const methodNotAllowed = () =>
  new StatusError(405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));

// etcd3 store wording (k8s.io/apiserver/pkg/storage/etcd3/errors.go).
export const EXPIRED_LIST = 'The resourceVersion for the provided list is too old.';
export const INCONSISTENT_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue ' +
  'parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided ' +
  'token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was ' +
  'returned and now may show up in the list.';

/** 410 Expired; `continueToken` is the inconsistent-continuation token the real server hands back. */
export const expired = (message: string, continueToken?: string) =>
  new StatusError(410, status(410, 'Expired', message, undefined, continueToken ? { continue: continueToken } : {}));

/** The object of a watch ERROR event when the requested resourceVersion was compacted (watch cache wording). */
export const tooOldResourceVersion = (requested: number, oldest: number) => status(410, 'Expired', `too old resource version: ${requested} (${oldest})`);

export function tooManyRequests(retryAfterSeconds: number) {
  return new StatusError(429, status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds }), {
    'Retry-After': String(retryAfterSeconds),
  });
}

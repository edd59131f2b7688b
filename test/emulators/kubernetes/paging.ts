import type { ClusterState, Resource } from './state.js';
import { matchesFields, matchesLabels, type FieldRequirement, type LabelRequirement } from './selectors.js';
import { badRequest, expired, EXPIRED_LIST, INCONSISTENT_CONTINUE } from './status.js';

/*
 * Lists with limit/continue, as the etcd3 storage layer serves them: items in key order, a page
 * read from the snapshot at the first page's resourceVersion (so a paged list is consistent even
 * while pods change), the continue token is base64 JSON {v, rv, start} (opaque to clients: they
 * must not parse it), metadata.remainingItemCount only when no selector filters the list (otherwise
 * the count is unknown). An expired or compacted token gets 410 Expired with the real message and a
 * token (rv -1) that continues inconsistently from the latest state.
 */

interface ContinueToken {
  v: 'meta.k8s.io/v1';
  rv: number;
  start: string;
}

export const encodeContinue = (rv: number, start: string) =>
  Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start } satisfies ContinueToken)).toString('base64');

function decodeContinue(token: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw badRequest(`invalid continue token: illegal base64 data or JSON`);
  }
  const t = parsed as Partial<ContinueToken>;
  if (t?.v !== 'meta.k8s.io/v1') throw badRequest('invalid continue token: continue key is not supported by this version of the server');
  if (typeof t.rv !== 'number' || typeof t.start !== 'string' || t.start.length === 0) throw badRequest('invalid continue token: continue key is not valid');
  return t as ContinueToken;
}

export interface ListQuery {
  namespace?: string; // undefined: all namespaces
  labels: LabelRequirement[];
  fields: FieldRequirement[];
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListPage {
  resourceVersion: number;
  items: any[];
  continueToken?: string;
  remainingItemCount?: number;
}

export class Pager {
  readonly #issued = new Set<string>();
  readonly #expired = new Set<string>();

  constructor(private readonly state: ClusterState) {}

  expireIssued(): void {
    for (const t of this.#issued) this.#expired.add(t);
    this.#issued.clear();
  }

  list(resource: Resource, q: ListQuery): ListPage {
    const prefix = q.namespace === undefined ? '' : `${q.namespace}/`;
    let readRv: number | undefined;
    let startKey = prefix;
    if (q.continueToken) {
      const token = decodeContinue(q.continueToken);
      if (this.#expired.has(q.continueToken) || (token.rv !== -1 && token.rv < this.state.compactedRv)) {
        throw expired(INCONSISTENT_CONTINUE, encodeContinue(-1, token.start));
      }
      readRv = token.rv === -1 ? undefined : token.rv;
      startKey = prefix + token.start;
    } else if (q.resourceVersion && q.resourceVersion !== '0') {
      const rv = Number(q.resourceVersion);
      if (!Number.isInteger(rv) || rv < 0) throw badRequest(`invalid resource version: ${q.resourceVersion}`);
      // An exact read (limit with an RV, or resourceVersionMatch=Exact) goes to etcd at that revision;
      // otherwise "not older than" is served from the (always current) cache.
      if (q.resourceVersionMatch === 'Exact' || q.limit) {
        readRv = rv;
        if (rv < this.state.compactedRv) throw expired(EXPIRED_LIST);
      }
    }
    const snapshot = this.state.snapshot(resource, readRv);
    if (!snapshot) throw expired(EXPIRED_LIST);
    const rv = readRv ?? this.state.resourceVersion;
    const inScope = snapshot.filter(([key]) => key.startsWith(prefix) && key >= startKey);
    const items: any[] = [];
    let lastIndex = -1;
    for (let i = 0; i < inScope.length; i += 1) {
      const obj = inScope[i]![1];
      if (!matchesLabels(q.labels, obj.metadata.labels) || !matchesFields(q.fields, obj)) continue;
      items.push(structuredClone(obj));
      lastIndex = i;
      if (q.limit && items.length >= q.limit) break;
    }
    const page: ListPage = { resourceVersion: rv, items };
    const remaining = q.limit && items.length >= q.limit ? inScope.length - lastIndex - 1 : 0;
    if (remaining > 0) {
      const lastKey = inScope[lastIndex]![0];
      page.continueToken = encodeContinue(rv, `${lastKey.slice(prefix.length)}\u0000`);
      this.#issued.add(page.continueToken);
      if (q.labels.length === 0 && q.fields.length === 0) page.remainingItemCount = remaining;
    }
    return page;
  }
}

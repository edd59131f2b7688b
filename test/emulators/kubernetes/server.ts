import https from 'node:https';
import type http from 'node:http';
import type { Socket } from 'node:net';
import { discovery } from './discovery.js';
import { microTime, withKind } from './objects.js';
import { Pager } from './paging.js';
import { METADATA_FIELDS, parseFieldSelector, parseLabelSelector, POD_FIELDS, SelectorError } from './selectors.js';
import { keyOf, type ClusterState, type Resource } from './state.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  invalid,
  LEASES,
  methodNotAllowed,
  NAMESPACES,
  notFound,
  pathNotFound,
  PODS,
  StatusError,
  tooManyRequests,
  unauthorized,
  type GroupResource,
} from './status.js';
import type { EmulatorRequest, RequestMatch } from './types.js';
import { startWatch, type OpenWatch } from './watch.js';

/*
 * The HTTPS front of the emulator: bearer-token authentication, RBAC-style deny rules, the fault
 * switches, the request log, and routing to discovery, pods (read-only over the wire: tests change
 * pods through the emulator's methods, as the kubelet/scheduler would) and Leases (full CRUD with
 * optimistic concurrency). Every socket is tracked so close() can destroy it, watches included.
 */

export interface ServerConfig {
  host: string;
  cert: string;
  key: string;
  bookmarkIntervalMs: number;
  namespaces: Set<string>;
  validTokens: Set<string>;
}

interface DenyRule {
  verb: string;
  resource: 'pods' | 'leases';
  namespace?: string;
}

const RESOURCES: Record<Resource, GroupResource> = { pods: PODS, leases: LEASES };

export class KubeApiServer {
  readonly requests: EmulatorRequest[] = [];
  readonly pager: Pager;
  latencyMs = 0;
  readonly deny: DenyRule[] = [];
  readonly hangs: RequestMatch[] = [];
  readonly malformed: RequestMatch[] = [];
  throttle = { count: 0, retryAfterSeconds: 1 };
  readonly #server: https.Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<OpenWatch>();
  readonly #hung = new Set<http.ServerResponse>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #port = 0;

  constructor(
    private readonly state: ClusterState,
    private readonly config: ServerConfig,
  ) {
    this.pager = new Pager(state);
    this.#server = https.createServer({ cert: config.cert, key: config.key }, (req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    // A client that fails TLS verification just drops; nothing to log here.
    this.#server.on('tlsClientError', () => {});
  }

  get port(): number {
    return this.#port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, this.config.host, () => resolve());
    });
    this.#port = (this.#server.address() as { port: number }).port;
  }

  /** Ends every open watch cleanly (the client sees the stream end, as at a server-side timeout). */
  endWatches(): void {
    for (const w of [...this.#watches]) w.end();
  }

  releaseHung(): void {
    for (const res of this.#hung) res.socket?.destroy();
    this.#hung.clear();
  }

  async close(): Promise<void> {
    this.endWatches();
    this.releaseHung();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    this.#server.closeAllConnections();
    await closed;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://emulator');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : undefined;
    const token: EmulatorRequest['token'] = bearer === undefined ? 'none' : this.config.validTokens.has(bearer) ? 'valid' : 'invalid';
    const entry: EmulatorRequest = { method, path, query, token, status: 0 };
    this.requests.push(entry);
    const body = await readBody(req);
    const seen = { method, path, query };
    try {
      if (this.latencyMs > 0) await this.#sleep(this.latencyMs);
      if (res.destroyed) return;
      if (this.hangs.some((m) => m(seen))) {
        this.#hung.add(res);
        res.once('close', () => this.#hung.delete(res));
        return;
      }
      if (token !== 'valid') throw unauthorized();
      if (this.throttle.count > 0) {
        this.throttle.count -= 1;
        throw tooManyRequests(this.throttle.retryAfterSeconds);
      }
      if (this.malformed.some((m) => m(seen))) {
        entry.status = 200;
        const watching = query.watch === '1' || query.watch === 'true';
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(watching ? '{"type":"ADDED","object":{"kind":"Pod","apiVersion":\n' : '{"kind":"Status","apiVersion":"v1","metadata":{},"items":[{');
        return;
      }
      this.#route(method, path, query, body, res, entry);
    } catch (err) {
      if (err instanceof StatusError) this.#send(res, entry, err.code, err.body, err.headers);
      else
        this.#send(res, entry, 500, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: String(err),
          reason: 'InternalError',
          code: 500,
        });
    }
  }

  #send(res: http.ServerResponse, entry: EmulatorRequest, code: number, body: unknown, headers: Record<string, string> = {}): void {
    entry.status = code;
    if (res.headersSent || res.destroyed) return;
    res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
    res.end(JSON.stringify(body));
  }

  #authorize(verb: string, resource: Resource, namespace: string | undefined, name?: string): void {
    const denied = this.deny.some((r) => r.verb === verb && r.resource === resource && (r.namespace === undefined || r.namespace === namespace));
    if (denied) throw forbidden(RESOURCES[resource], verb, namespace, name);
  }

  #route(method: string, path: string, query: Record<string, string>, body: string, res: http.ServerResponse, entry: EmulatorRequest): void {
    const doc = discovery(path, `${this.config.host}:${this.#port}`);
    if (doc !== undefined) {
      if (method !== 'GET') throw methodNotAllowed();
      return this.#send(res, entry, 200, doc);
    }
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    // /api/v1/... or /apis/coordination.k8s.io/v1/...
    let rest: string[];
    let group: 'core' | 'coordination';
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = 'core';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts[1] === 'coordination.k8s.io' && parts[2] === 'v1') {
      group = 'coordination';
      rest = parts.slice(3);
    } else throw pathNotFound();
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    if (group === 'core' && rest[0] === 'namespaces' && rest.length <= 2) return this.#namespaces(method, rest[1], res, entry);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const resourceName = rest[0];
    const resource: Resource | undefined =
      group === 'core' && resourceName === 'pods' ? 'pods' : group === 'coordination' && resourceName === 'leases' ? 'leases' : undefined;
    if (!resource || rest.length > 2) throw pathNotFound();
    const name = rest[1];
    const watching = watchPath || query.watch === '1' || query.watch === 'true';
    if (method === 'GET' && name === undefined) {
      return watching ? this.#watch(resource, namespace, query, res, entry) : this.#list(resource, namespace, query, res, entry);
    }
    if (method === 'GET' && name !== undefined) {
      if (namespace === undefined) throw pathNotFound();
      this.#authorize('get', resource, namespace, name);
      const obj = this.state.get(resource, keyOf(namespace, name));
      if (!obj) throw notFound(RESOURCES[resource], name);
      return this.#send(res, entry, 200, withKind(resource, obj));
    }
    if (resource === 'pods' || namespace === undefined) throw methodNotAllowed();
    if (method === 'POST' && name === undefined) return this.#createLease(namespace, body, res, entry);
    if (method === 'PUT' && name !== undefined) return this.#replaceLease(namespace, name, body, res, entry);
    if (method === 'DELETE' && name !== undefined) return this.#deleteLease(namespace, name, body, res, entry);
    throw methodNotAllowed();
  }

  #namespaces(method: string, name: string | undefined, res: http.ServerResponse, entry: EmulatorRequest): void {
    if (method !== 'GET') throw methodNotAllowed();
    const ns = (n: string) => ({ metadata: { name: n, resourceVersion: '1' }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    if (name === undefined) {
      return this.#send(res, entry, 200, {
        kind: 'NamespaceList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.state.resourceVersion) },
        items: [...this.config.namespaces].sort().map(ns),
      });
    }
    if (!this.config.namespaces.has(name)) throw notFound(NAMESPACES, name);
    return this.#send(res, entry, 200, { kind: 'Namespace', apiVersion: 'v1', ...ns(name) });
  }

  #selectors(resource: Resource, query: Record<string, string>) {
    try {
      return {
        labels: parseLabelSelector(query.labelSelector ?? ''),
        fields: parseFieldSelector(query.fieldSelector ?? '', resource === 'pods' ? POD_FIELDS : METADATA_FIELDS),
      };
    } catch (err) {
      if (err instanceof SelectorError) throw badRequest(err.message);
      throw err;
    }
  }

  #list(resource: Resource, namespace: string | undefined, query: Record<string, string>, res: http.ServerResponse, entry: EmulatorRequest): void {
    this.#authorize('list', resource, namespace);
    const { labels, fields } = this.#selectors(resource, query);
    const limit = query.limit !== undefined ? Number.parseInt(query.limit, 10) : undefined;
    const page = this.pager.list(resource, {
      namespace,
      labels,
      fields,
      limit: limit !== undefined && limit > 0 ? limit : undefined,
      continueToken: query.continue || undefined,
      resourceVersion: query.resourceVersion,
      resourceVersionMatch: query.resourceVersionMatch,
    });
    const metadata: Record<string, unknown> = { resourceVersion: String(page.resourceVersion) };
    if (page.continueToken) metadata.continue = page.continueToken;
    if (page.remainingItemCount !== undefined) metadata.remainingItemCount = page.remainingItemCount;
    const kind = resource === 'pods' ? { kind: 'PodList', apiVersion: 'v1' } : { kind: 'LeaseList', apiVersion: 'coordination.k8s.io/v1' };
    this.#send(res, entry, 200, { ...kind, metadata, items: page.items });
  }

  #watch(resource: Resource, namespace: string | undefined, query: Record<string, string>, res: http.ServerResponse, entry: EmulatorRequest): void {
    this.#authorize('watch', resource, namespace);
    const { labels, fields } = this.#selectors(resource, query);
    const timeout = query.timeoutSeconds !== undefined ? Number(query.timeoutSeconds) : undefined;
    entry.status = 200;
    // A watch can end inside startWatch (an ERROR 410 event at once): `w` is not assigned yet then.
    let w: OpenWatch | undefined;
    w = startWatch(
      this.state,
      {
        resource,
        namespace,
        labels,
        fields,
        resourceVersion: query.resourceVersion,
        allowWatchBookmarks: query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1',
        timeoutSeconds: timeout !== undefined && Number.isFinite(timeout) ? timeout : undefined,
        bookmarkIntervalMs: this.config.bookmarkIntervalMs,
      },
      res,
      () => {
        if (w) this.#watches.delete(w);
      },
    );
    if (!res.writableEnded) this.#watches.add(w);
  }

  #parseLease(body: string, namespace: string): any {
    let parsed: any;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw badRequest(`Lease in version "v1" cannot be handled as a Lease: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw badRequest('Lease in version "v1" cannot be handled as a Lease: not an object');
    const m = parsed.metadata ?? {};
    if (m.namespace !== undefined && m.namespace !== '' && m.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const metadata: Record<string, unknown> = { name: m.name, namespace };
    for (const f of ['labels', 'annotations', 'ownerReferences'] as const) if (m[f] !== undefined && m[f] !== null) metadata[f] = m[f];
    if (m.resourceVersion !== undefined && m.resourceVersion !== '') metadata.resourceVersion = String(m.resourceVersion);
    const s = parsed.spec ?? {};
    const spec: Record<string, unknown> = {};
    if (s.holderIdentity !== undefined && s.holderIdentity !== null) spec.holderIdentity = String(s.holderIdentity);
    for (const f of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
      if (s[f] === undefined || s[f] === null) continue;
      if (!Number.isInteger(s[f]))
        throw badRequest(`Lease in version "v1" cannot be handled as a Lease: v1.Lease.Spec: v1.LeaseSpec.${f}: readUint32: unexpected character`);
      spec[f] = s[f];
    }
    for (const f of ['acquireTime', 'renewTime'] as const) {
      if (s[f] === undefined || s[f] === null) continue;
      const t = microTime(s[f]);
      if (!t)
        throw badRequest(
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(s[f])} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
        );
      spec[f] = t;
    }
    if (typeof spec.leaseDurationSeconds === 'number' && spec.leaseDurationSeconds <= 0) {
      throw invalid(LEASES, String(m.name ?? ''), 'spec.leaseDurationSeconds', String(spec.leaseDurationSeconds), 'must be greater than 0');
    }
    if (typeof spec.leaseTransitions === 'number' && spec.leaseTransitions < 0) {
      throw invalid(LEASES, String(m.name ?? ''), 'spec.leaseTransitions', String(spec.leaseTransitions), 'must be greater than or equal to 0');
    }
    return { metadata, spec };
  }

  #create(namespace: string, lease: any, res: http.ServerResponse, entry: EmulatorRequest): void {
    if (!this.config.namespaces.has(namespace)) throw notFound(NAMESPACES, namespace);
    delete lease.metadata.resourceVersion;
    const stored = this.state.put('leases', lease);
    this.#send(res, entry, 201, withKind('leases', stored));
  }

  #createLease(namespace: string, body: string, res: http.ServerResponse, entry: EmulatorRequest): void {
    this.#authorize('create', 'leases', namespace);
    const lease = this.#parseLease(body, namespace);
    const name = lease.metadata.name;
    if (typeof name !== 'string' || name === '') throw invalid(LEASES, '', 'metadata.name', '""', 'name or generateName is required');
    if (this.state.get('leases', keyOf(namespace, name))) throw alreadyExists(LEASES, name);
    if (lease.metadata.resourceVersion !== undefined) {
      // The etcd3 store refuses it; the handler turns that plain error into a 500 InternalError.
      const why = 'resourceVersion should not be set on objects to be created';
      throw new StatusError(500, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Internal error occurred: ${why}`,
        reason: 'InternalError',
        details: { causes: [{ message: why }] },
        code: 500,
      });
    }
    this.#create(namespace, lease, res, entry);
  }

  #replaceLease(namespace: string, name: string, body: string, res: http.ServerResponse, entry: EmulatorRequest): void {
    this.#authorize('update', 'leases', namespace, name);
    const lease = this.#parseLease(body, namespace);
    if (lease.metadata.name !== name) throw badRequest(`the name of the object (${lease.metadata.name ?? ''}) does not match the name on the URL (${name})`);
    const existing = this.state.get('leases', keyOf(namespace, name));
    // Leases allow create-on-update (registry/coordination/lease strategy: AllowCreateOnUpdate true),
    // so a PUT to a missing Lease creates it — whatever resourceVersion the body carries.
    if (!existing) return this.#create(namespace, lease, res, entry);
    const rv = lease.metadata.resourceVersion;
    // AllowUnconditionalUpdate is false for Leases: the body must carry the resourceVersion.
    if (rv === undefined) throw invalid(LEASES, name, 'metadata.resourceVersion', '0x0', 'must be specified for an update');
    if (rv !== existing.metadata.resourceVersion) throw conflict(LEASES, name);
    const stored = this.state.put('leases', lease);
    this.#send(res, entry, 200, withKind('leases', stored));
  }

  #deleteLease(namespace: string, name: string, body: string, res: http.ServerResponse, entry: EmulatorRequest): void {
    this.#authorize('delete', 'leases', namespace, name);
    const existing = this.state.get('leases', keyOf(namespace, name));
    if (!existing) throw notFound(LEASES, name);
    let options: any = {};
    try {
      options = body.trim() ? JSON.parse(body) : {};
    } catch {
      throw badRequest('DeleteOptions: invalid JSON');
    }
    const pre = options?.preconditions ?? {};
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(
        LEASES,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`,
      );
    }
    if (pre.uid !== undefined && pre.uid !== existing.metadata.uid) {
      throw conflict(LEASES, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`);
    }
    this.state.remove('leases', keyOf(namespace, name));
    this.#send(res, entry, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, group: 'coordination.k8s.io', kind: 'leases', uid: existing.metadata.uid },
    });
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

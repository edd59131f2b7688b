import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ConsulState, EmulatorError, parseDuration, type CheckRecord, type CheckStatus, type KvRecord, type ServiceRecord } from './state.js';
import { runKvTxn } from './txn.js';

/*
 * A loopback HTTP server speaking the part of the Consul HTTP API clusterseed (and the npm `consul`
 * client) uses: agent service/check endpoints, /v1/health/service, /v1/catalog/service, sessions, KV,
 * blocking queries (index/wait + X-Consul-Index) and ACL tokens, over HTTP or HTTPS (`tls`: a
 * server certificate, and like Consul's `verify_incoming` optionally a required client certificate
 * signed by `caFile`). Test-only extras: `timeScale` (multiplies TTLs, lock delays and
 * DeregisterCriticalServiceAfter), fault injection and request counting.
 */

export interface ConsulEmulatorOptions {
  datacenter?: string;
  nodeName?: string;
  nodeAddress?: string;
  /** e.g. 0.05 → a "10s" TTL expires after 0.5 s (sessions: after TTL × sessionTtlMultiplier). */
  timeScale?: number;
  sessionTtlMultiplier?: number;
  /** With ACLs on, the anonymous token may read nothing and write nothing (default policy deny). */
  acl?: { tokens: Record<string, 'read' | 'write'> };
  /** Serve HTTPS (PEM files, e.g. from test/fixtures/pki.ts). */
  tls?: EmulatorTls;
}

export interface EmulatorTls {
  certFile: string;
  keyFile: string;
  /** CA that client certificates must chain to (Consul's ca_file). */
  caFile?: string;
  /** Ask for a client certificate (requestCert) [true when caFile is set]. */
  requestCert?: boolean;
  /** Refuse a handshake without a valid client certificate (Consul's verify_incoming) [false]. */
  rejectUnauthorized?: boolean;
}

export type Fault = { kind: 'status'; status: number; body?: string } | { kind: 'body'; body: string } | { kind: 'latency'; ms: number };
interface FaultRule {
  method?: string;
  path: string | RegExp;
  fault: Fault;
  remaining: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  hasToken: boolean;
  /** Date.now() when it arrived. */
  at: number;
  /** Over HTTPS: the CN of the verified client certificate, if one was presented. */
  clientCert?: string;
}

export class ConsulEmulator {
  readonly state: ConsulState;
  readonly requests: RecordedRequest[] = [];
  readonly #server: http.Server | https.Server;
  readonly #faults: FaultRule[] = [];
  readonly #acl: ConsulEmulatorOptions['acl'];
  #ticker: NodeJS.Timeout | undefined;
  #port = 0;
  readonly #secure: boolean;
  /** TLS handshakes the server refused (e.g. no client certificate while one is required), by error code. */
  readonly tlsFailures: string[] = [];

  constructor(options: ConsulEmulatorOptions = {}) {
    this.state = new ConsulState({
      datacenter: options.datacenter ?? 'dc1',
      nodeName: options.nodeName ?? 'emulator-node',
      nodeAddress: options.nodeAddress ?? '127.0.0.1',
      timeScale: options.timeScale ?? 1,
      sessionTtlMultiplier: options.sessionTtlMultiplier ?? 2,
    });
    this.#acl = options.acl;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.#handle(req, res);
    const t = options.tls;
    this.#secure = t !== undefined;
    if (t) {
      const server = https.createServer(
        {
          cert: readFileSync(t.certFile),
          key: readFileSync(t.keyFile),
          ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
          requestCert: t.requestCert ?? t.caFile !== undefined,
          rejectUnauthorized: t.rejectUnauthorized ?? false,
        },
        handler,
      );
      // A client that hung up mid-handshake (closing) is no refusal.
      server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.tlsFailures.push(err.code ?? err.message);
      });
      this.#server = server;
    } else {
      this.#server = http.createServer(handler);
    }
    this.#server.keepAliveTimeout = 1000;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    this.#ticker = setInterval(() => this.state.tick(), 20);
    this.#ticker.unref();
    return this;
  }

  get port(): number {
    return this.#port;
  }
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }
  /** For CONSUL_HTTP_ADDR: http://127.0.0.1:<port> or https://… */
  get url(): string {
    return `${this.#secure ? 'https' : 'http'}://${this.address}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The next `times` requests whose path starts with (or matches) `path` get `fault`. */
  inject(path: string | RegExp, fault: Fault, options: { times?: number; method?: string } = {}): void {
    this.#faults.push({ path, fault, remaining: options.times ?? 1, method: options.method });
  }

  count(pathPrefix: string, method?: string): number {
    return this.requests.filter((r) => r.path.startsWith(pathPrefix) && (method === undefined || r.method === method)).length;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const token = headerValue(req.headers['x-consul-token']) ?? url.searchParams.get('token') ?? bearer(req.headers.authorization);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      hasToken: token !== undefined && token !== '',
      at: Date.now(),
    };
    const socket = req.socket as Partial<TLSSocket>;
    if (this.#secure && socket.authorized) {
      const cn = socket.getPeerCertificate?.()?.subject?.CN;
      if (typeof cn === 'string') recorded.clientCert = cn;
    }
    this.requests.push(recorded);
    const body = await readBody(req);
    const rule = this.#faults.find(
      (f) =>
        f.remaining > 0 &&
        (f.method === undefined || f.method === req.method) &&
        (typeof f.path === 'string' ? url.pathname.startsWith(f.path) : f.path.test(url.pathname)),
    );
    if (rule) {
      rule.remaining -= 1;
      const f = rule.fault;
      if (f.kind === 'latency') await new Promise((r) => setTimeout(r, f.ms));
      else if (f.kind === 'status') return send(res, f.status, f.body ?? 'injected failure', 'text/plain');
      else return send(res, 200, f.body, 'application/json', { 'X-Consul-Index': String(this.state.index) });
    }
    try {
      await this.#route(req.method ?? 'GET', url, body, token ?? '', req, res);
    } catch (err) {
      if (err instanceof EmulatorError) send(res, err.status, err.message, 'text/plain');
      else send(res, 500, (err as Error).message, 'text/plain');
    }
  }

  #authorize(token: string, need: 'read' | 'write'): 'ok' | 'filtered' {
    if (!this.#acl) return 'ok';
    if (token === '') {
      if (need === 'read') return 'filtered';
      throw new EmulatorError(403, 'Permission denied');
    }
    const policy = this.#acl.tokens[token];
    if (policy === undefined) throw new EmulatorError(403, 'ACL not found');
    if (need === 'write' && policy !== 'write') throw new EmulatorError(403, 'Permission denied');
    return 'ok';
  }

  async #route(method: string, url: URL, body: Buffer, token: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const p = url.pathname;
    const q = url.searchParams;
    const s = this.state;
    const node = s.agentNode;
    let m: RegExpMatchArray | null;
    const dc = q.get('dc');
    if (dc && !s.datacenters().has(dc)) throw new EmulatorError(500, 'No path to datacenter');
    const wantsPut = () => {
      if (method !== 'PUT') throw new EmulatorError(405, `method ${method} not allowed`);
    };

    if (p === '/v1/agent/service/register') {
      wantsPut();
      this.#authorize(token, 'write');
      const svc = parseJson(body) as {
        ID?: string;
        Name?: string;
        Tags?: string[];
        Address?: string;
        Port?: number;
        Meta?: Record<string, string>;
        Check?: object;
        Checks?: object[];
      };
      if (!svc.Name) throw new EmulatorError(400, 'Missing service name');
      s.registerService(node, { ...svc, Name: svc.Name }, (svc.Checks ?? (svc.Check ? [svc.Check] : [])) as never);
      return send(res, 200, '', 'text/plain');
    }
    if ((m = p.match(/^\/v1\/agent\/service\/deregister\/(.+)$/))) {
      wantsPut();
      this.#authorize(token, 'write');
      const id = decodeURIComponent(m[1]!);
      if (!s.deregisterService(node, id))
        throw new EmulatorError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      return send(res, 200, '', 'text/plain');
    }
    if ((m = p.match(/^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/))) {
      wantsPut();
      this.#authorize(token, 'write');
      const status: CheckStatus = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
      s.updateCheck(node, decodeURIComponent(m[2]!), status, q.get('note') ?? '');
      return send(res, 200, '', 'text/plain');
    }
    if ((m = p.match(/^\/v1\/health\/service\/(.+)$/))) {
      const filtered = this.#authorize(token, 'read') === 'filtered';
      const name = decodeURIComponent(m[1]!);
      const tags = q.getAll('tag');
      const passing = q.has('passing') && q.get('passing') !== 'false' && q.get('passing') !== '0';
      return this.#blocking(q, res, () => {
        if (filtered) return { index: s.index, body: [], filtered: true };
        const entries = this.#instances(name, dc ?? s.options.datacenter, tags)
          .map((svc) => ({ svc, checks: this.#checksOf(svc) }))
          .filter((e) => !passing || e.checks.every((c) => c.Status === 'passing'))
          .map((e) => healthEntry(s.nodes.get(e.svc.node)!, e.svc, e.checks));
        return { index: s.index, body: entries };
      });
    }
    if ((m = p.match(/^\/v1\/catalog\/service\/(.+)$/))) {
      const filtered = this.#authorize(token, 'read') === 'filtered';
      const name = decodeURIComponent(m[1]!);
      return this.#blocking(q, res, () => ({
        index: s.index,
        filtered,
        body: filtered ? [] : this.#instances(name, dc ?? s.options.datacenter, q.getAll('tag')).map((svc) => catalogEntry(s.nodes.get(svc.node)!, svc)),
      }));
    }
    if (p === '/v1/session/create') {
      wantsPut();
      this.#authorize(token, 'write');
      const id = s.createSession(body.length === 0 ? {} : (parseJson(body) as never));
      return send(res, 200, JSON.stringify({ ID: id }), 'application/json');
    }
    if ((m = p.match(/^\/v1\/session\/renew\/(.+)$/))) {
      wantsPut();
      this.#authorize(token, 'write');
      return send(res, 200, JSON.stringify([sessionJson(s.renewSession(decodeURIComponent(m[1]!)))]), 'application/json');
    }
    if ((m = p.match(/^\/v1\/session\/destroy\/(.+)$/))) {
      wantsPut();
      this.#authorize(token, 'write');
      s.invalidateSession(decodeURIComponent(m[1]!));
      return send(res, 200, 'true', 'application/json');
    }
    if ((m = p.match(/^\/v1\/session\/info\/(.+)$/))) {
      this.#authorize(token, 'read');
      const ses = s.sessions.get(decodeURIComponent(m[1]!));
      return send(res, 200, JSON.stringify(ses ? [sessionJson(ses)] : []), 'application/json', { 'X-Consul-Index': String(s.index) });
    }
    if (p === '/v1/txn') {
      wantsPut();
      this.#authorize(token, 'write');
      const out = runKvTxn(s, parseJson(body));
      return send(res, out.status, JSON.stringify(out.body), 'application/json', { 'X-Consul-Index': String(s.index) });
    }
    if ((m = p.match(/^\/v1\/kv\/(.*)$/))) return this.#kv(method, decodeURIComponent(m[1]!), q, body, token, res);
    void req;
    throw new EmulatorError(404, `emulator: no route for ${method} ${p}`);
  }

  #kv(method: string, key: string, q: URLSearchParams, body: Buffer, token: string, res: http.ServerResponse): void {
    const s = this.state;
    const num = (name: string) => {
      const v = q.get(name);
      if (v === null) return undefined;
      if (!/^\d+$/.test(v)) throw new EmulatorError(400, `Invalid ${name} value: "${v}"`);
      return Number(v);
    };
    if (method === 'GET') {
      if (this.#authorize(token, 'read') === 'filtered') throw new EmulatorError(403, 'Permission denied');
      const recurse = q.has('recurse');
      const keys = q.has('keys');
      return this.#blocking(q, res, () => {
        const index = s.kvIndex(key, recurse || keys);
        if (keys) {
          const sep = q.get('separator') ?? '';
          const found = new Set<string>();
          for (const k of [...s.kv.keys()].filter((k) => k.startsWith(key)).sort()) {
            const cut = sep === '' ? -1 : k.indexOf(sep, key.length);
            found.add(cut < 0 ? k : k.slice(0, cut + sep.length));
          }
          return found.size === 0 ? { index, notFound: true } : { index, body: [...found] };
        }
        const rows = recurse
          ? [...s.kv.values()].filter((r) => r.Key.startsWith(key)).sort((a, b) => a.Key.localeCompare(b.Key))
          : [s.kv.get(key)].filter((r): r is KvRecord => r !== undefined);
        if (rows.length === 0) return { index, notFound: true };
        if (q.has('raw') && !recurse) return { index, raw: rows[0]!.Value ?? Buffer.alloc(0) };
        return { index, body: rows.map(kvJson) };
      });
    }
    this.#authorize(token, 'write');
    if (method === 'PUT') {
      const ok = s.putKv(key, body, { acquire: q.get('acquire') ?? undefined, release: q.get('release') ?? undefined, cas: num('cas'), flags: num('flags') });
      return send(res, 200, String(ok), 'application/json');
    }
    if (method === 'DELETE') return send(res, 200, String(s.deleteKv(key, { recurse: q.has('recurse'), cas: num('cas') })), 'application/json');
    throw new EmulatorError(405, `method ${method} not allowed`);
  }

  /** Runs `read` now, or — with ?index=N — once the result's index passes N or `wait` runs out. */
  #blocking(
    q: URLSearchParams,
    res: http.ServerResponse,
    read: () => { index: number; body?: unknown; notFound?: boolean; filtered?: boolean; raw?: Buffer },
  ): void {
    const minIndex = Number(q.get('index') ?? '0');
    const waitMs = Math.min(q.get('wait') ? parseDuration(q.get('wait')!, 'wait') : 300_000, 600_000);
    const deadline = Date.now() + waitMs;
    const respond = () => {
      const r = read();
      const headers: Record<string, string> = { 'X-Consul-Index': String(Math.max(1, r.index)), 'X-Consul-KnownLeader': 'true', 'X-Consul-LastContact': '0' };
      if (r.filtered) headers['X-Consul-Results-Filtered-By-ACLs'] = 'true';
      if (r.raw) return send(res, 200, r.raw, 'application/octet-stream', headers);
      if (r.notFound) return send(res, 404, '', 'text/plain', headers);
      send(res, 200, JSON.stringify(r.body), 'application/json', headers);
    };
    if (!q.has('index') || minIndex <= 0 || read().index > minIndex) return respond();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      clearTimeout(timer);
      respond();
    };
    const unsubscribe = this.state.onChange(() =>
      setImmediate(() => {
        if (!done && read().index > minIndex) finish();
      }),
    );
    const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
    res.on('close', () => {
      if (!done) {
        done = true;
        unsubscribe();
        clearTimeout(timer);
      }
    });
  }

  #instances(name: string, datacenter: string, tags: string[]): ServiceRecord[] {
    return [...this.state.services.values()]
      .filter((svc) => svc.Service === name && this.state.nodes.get(svc.node)?.Datacenter === datacenter && tags.every((t) => svc.Tags.includes(t)))
      .sort((a, b) => a.node.localeCompare(b.node) || a.ID.localeCompare(b.ID));
  }

  #checksOf(svc: ServiceRecord): CheckRecord[] {
    return [...this.state.checks.values()].filter((c) => c.node === svc.node && (c.ServiceID === '' || c.ServiceID === svc.ID));
  }
}

function healthEntry(
  n: { ID: string; Node: string; Address: string; Datacenter: string; Meta: Record<string, string> },
  svc: ServiceRecord,
  checks: CheckRecord[],
) {
  return {
    Node: {
      ID: n.ID,
      Node: n.Node,
      Address: n.Address,
      Datacenter: n.Datacenter,
      TaggedAddresses: { lan: n.Address, wan: n.Address },
      Meta: n.Meta,
      CreateIndex: 1,
      ModifyIndex: 1,
    },
    Service: {
      ID: svc.ID,
      Service: svc.Service,
      Tags: svc.Tags,
      Address: svc.Address,
      Meta: svc.Meta,
      Port: svc.Port,
      Weights: { Passing: 1, Warning: 1 },
      EnableTagOverride: false,
      CreateIndex: svc.CreateIndex,
      ModifyIndex: svc.ModifyIndex,
    },
    Checks: checks.map((c) => ({
      Node: c.node,
      CheckID: c.CheckID,
      Name: c.Name,
      Status: c.Status,
      Notes: c.Notes,
      Output: c.Output,
      ServiceID: c.ServiceID,
      ServiceName: c.ServiceName,
      ServiceTags: c.ServiceID === '' ? [] : svc.Tags,
      Type: c.Type,
      CreateIndex: c.CreateIndex,
      ModifyIndex: c.ModifyIndex,
    })),
  };
}

function catalogEntry(n: { ID: string; Node: string; Address: string; Datacenter: string; Meta: Record<string, string> }, svc: ServiceRecord) {
  return {
    ID: n.ID,
    Node: n.Node,
    Address: n.Address,
    Datacenter: n.Datacenter,
    TaggedAddresses: { lan: n.Address, wan: n.Address },
    NodeMeta: n.Meta,
    ServiceID: svc.ID,
    ServiceName: svc.Service,
    ServiceTags: svc.Tags,
    ServiceAddress: svc.Address,
    ServicePort: svc.Port,
    ServiceMeta: svc.Meta,
    ServiceEnableTagOverride: false,
    CreateIndex: svc.CreateIndex,
    ModifyIndex: svc.ModifyIndex,
  };
}

function kvJson(r: KvRecord) {
  const out: Record<string, unknown> = {
    LockIndex: r.LockIndex,
    Key: r.Key,
    Flags: r.Flags,
    Value: r.Value === null || r.Value.length === 0 ? null : r.Value.toString('base64'),
    CreateIndex: r.CreateIndex,
    ModifyIndex: r.ModifyIndex,
  };
  if (r.Session !== undefined) out.Session = r.Session;
  return out;
}

function sessionJson(s: {
  ID: string;
  Name: string;
  Node: string;
  Checks: string[];
  LockDelayMs: number;
  Behavior: string;
  TTL: string;
  CreateIndex: number;
  ModifyIndex: number;
}) {
  return {
    ID: s.ID,
    Name: s.Name,
    Node: s.Node,
    NodeChecks: s.Checks,
    ServiceChecks: null,
    LockDelay: Math.round(s.LockDelayMs * 1e6),
    Behavior: s.Behavior,
    TTL: s.TTL,
    CreateIndex: s.CreateIndex,
    ModifyIndex: s.ModifyIndex,
  };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new EmulatorError(400, `Request decode failed: ${(err as Error).message}`);
  }
}

function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function bearer(v: string | undefined): string | undefined {
  return v?.startsWith('Bearer ') ? v.slice(7) : undefined;
}

export async function startConsulEmulator(options: ConsulEmulatorOptions = {}): Promise<ConsulEmulator> {
  return new ConsulEmulator(options).start();
}

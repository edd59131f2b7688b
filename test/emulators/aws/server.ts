/*
 * One loopback HTTP server that speaks the AWS wire protocols clusterseed uses. Each protocol is a
 * handler (ec2.ts: EC2 Query API, imds.ts: IMDSv2; ECS JSON 1.1 and task metadata v4 plug in the
 * same way). The server owns what every protocol shares: call counting per action, fault injection
 * (throttle the next N calls, 500s, malformed bodies, hangs, dropped connections) and per-request
 * latency. The real SDK clients reach it only through their normal endpoint settings
 * (AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_ECS, ECS_CONTAINER_METADATA_URI_V4,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT).
 *
 * Action names are namespaced by protocol: "ec2:DescribeInstances", "ecs:ListTasks",
 * "imds:PUT /latest/api/token", "imds:GET /latest/meta-data/local-ipv4", "task-metadata:GET /task".
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EmulatorRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** A fresh id per request, for RequestID / x-amzn-RequestId. */
  requestId: string;
}

export interface EmulatorResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type FaultKind =
  /** The protocol's throttling error (EC2 RequestLimitExceeded, ECS ThrottlingException, IMDS 429). */
  | 'throttle'
  /** HTTP 500 with the protocol's internal-error body. */
  | 'error500'
  /** HTTP 200 with a body that does not parse (truncated XML / JSON). */
  | 'malformed'
  /** Never answer (the socket stays open until the client gives up or the server closes). */
  | 'hang'
  /** Destroy the connection without a response. */
  | 'drop';

/** One wire protocol. `match` claims a request and names its action; `fault` renders faults in that protocol's format. */
export interface EmulatorHandler {
  readonly name: string;
  match(req: EmulatorRequest): string | undefined;
  handle(req: EmulatorRequest, action: string): EmulatorResponse | Promise<EmulatorResponse>;
  fault?(kind: 'throttle' | 'error500' | 'malformed', req: EmulatorRequest, action: string): EmulatorResponse;
}

interface PendingFault {
  kind: FaultKind;
  remaining: number;
}

export class AwsEmulator {
  readonly #server: http.Server;
  readonly #handlers: EmulatorHandler[] = [];
  readonly #calls = new Map<string, number>();
  readonly #faults = new Map<string, PendingFault[]>();
  readonly #latency = new Map<string, number>();
  readonly #hanging = new Set<http.ServerResponse>();
  /** Latency added to every request (ms), unless an action has its own. */
  latencyMs = 0;
  /** Every request in arrival order (action + request), for assertions on what the client sent. */
  readonly log: { action: string; req: EmulatorRequest }[] = [];

  private constructor(server: http.Server) {
    this.#server = server;
  }

  /** Starts on 127.0.0.1 and a free port. */
  static async start(handlers: EmulatorHandler[] = []): Promise<AwsEmulator> {
    const server = http.createServer();
    const emulator = new AwsEmulator(server);
    for (const h of handlers) emulator.use(h);
    server.on('request', (req, res) => void emulator.#serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return emulator;
  }

  /** http://127.0.0.1:PORT (no trailing slash). */
  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  use(handler: EmulatorHandler): this {
    this.#handlers.push(handler);
    return this;
  }

  /** Calls of one action, or of all actions of a protocol prefix ("ec2:"), or of everything. */
  calls(action?: string): number {
    if (action === undefined) return [...this.#calls.values()].reduce((a, b) => a + b, 0);
    if (action.endsWith(':')) {
      return [...this.#calls].filter(([k]) => k.startsWith(action)).reduce((a, [, n]) => a + n, 0);
    }
    return this.#calls.get(action) ?? 0;
  }

  callCounts(): Record<string, number> {
    return Object.fromEntries(this.#calls);
  }

  resetCalls(): void {
    this.#calls.clear();
    this.log.length = 0;
  }

  /** The next `times` calls of `action` ("*" = any action) fail with `kind`. Faults queue in order. */
  inject(action: string, kind: FaultKind, times = 1): this {
    const list = this.#faults.get(action) ?? [];
    list.push({ kind, remaining: times });
    this.#faults.set(action, list);
    return this;
  }

  clearFaults(): void {
    this.#faults.clear();
    this.#latency.clear();
    this.latencyMs = 0;
  }

  /** Per-action latency (ms). */
  setLatency(action: string, ms: number): this {
    this.#latency.set(action, ms);
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #takeFault(action: string): FaultKind | undefined {
    for (const key of [action, '*']) {
      const list = this.#faults.get(key);
      const first = list?.[0];
      if (!list || !first) continue;
      first.remaining -= 1;
      if (first.remaining <= 0) list.shift();
      return first.kind;
    }
    return undefined;
  }

  async #serve(raw: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of raw) chunks.push(chunk as Buffer);
    const url = new URL(raw.url ?? '/', 'http://emulator');
    const req: EmulatorRequest = {
      method: raw.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: raw.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      requestId: randomUUID(),
    };
    let handler: EmulatorHandler | undefined;
    let action: string | undefined;
    for (const h of this.#handlers) {
      action = h.match(req);
      if (action !== undefined) {
        handler = h;
        break;
      }
    }
    if (!handler || action === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no emulator handler for ${req.method} ${req.path}\n`);
      return;
    }
    this.#calls.set(action, (this.#calls.get(action) ?? 0) + 1);
    this.log.push({ action, req });
    const latency = this.#latency.get(action) ?? this.latencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    let response: EmulatorResponse;
    const fault = this.#takeFault(action);
    if (fault === 'hang') {
      this.#hanging.add(res);
      res.on('close', () => this.#hanging.delete(res));
      return;
    }
    if (fault === 'drop') {
      raw.socket.destroy();
      return;
    }
    try {
      if (fault) {
        response = handler.fault?.(fault, req, action) ?? genericFault(fault);
      } else {
        response = await handler.handle(req, action);
      }
    } catch (err) {
      response = { status: 500, headers: { 'content-type': 'text/plain' }, body: `emulator handler failed: ${String(err)}\n` };
    }
    if (res.destroyed) return;
    res.writeHead(response.status, { 'content-length': String(Buffer.byteLength(response.body)), ...response.headers });
    res.end(response.body);
  }
}

function genericFault(kind: 'throttle' | 'error500' | 'malformed'): EmulatorResponse {
  if (kind === 'throttle') return { status: 429, headers: { 'content-type': 'text/plain' }, body: 'Too Many Requests' };
  if (kind === 'error500') return { status: 500, headers: { 'content-type': 'text/plain' }, body: 'Internal Server Error' };
  return { status: 200, headers: { 'content-type': 'application/json' }, body: '{"truncated": ' };
}

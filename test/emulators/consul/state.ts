import { randomUUID } from 'node:crypto';

/*
 * The data behind the Consul emulator: one agent node plus optional foreign nodes, services with
 * TTL checks, sessions, and the KV store, all sharing one Raft-like index that every write bumps.
 * Durations (check TTLs, session TTLs, lock delays, DeregisterCriticalServiceAfter) are multiplied by
 * `timeScale`, a test-only setting so tests need not wait Consul's 10 s minimum TTL.
 */

export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface NodeRecord {
  ID: string;
  Node: string;
  Address: string;
  Datacenter: string;
  Meta: Record<string, string>;
}
export interface ServiceRecord {
  node: string;
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
  CreateIndex: number;
  ModifyIndex: number;
}
export interface CheckRecord {
  node: string;
  CheckID: string;
  Name: string;
  Status: CheckStatus;
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  Type: string;
  ttlMs?: number;
  expiresAt?: number;
  deregisterAfterMs?: number;
  criticalSince?: number;
  CreateIndex: number;
  ModifyIndex: number;
}
export interface SessionRecord {
  ID: string;
  Name: string;
  Node: string;
  Checks: string[];
  LockDelayMs: number;
  Behavior: 'release' | 'delete';
  TTL: string;
  ttlMs?: number;
  expiresAt?: number;
  CreateIndex: number;
  ModifyIndex: number;
}
export interface KvRecord {
  Key: string;
  Value: Buffer | null;
  Flags: number;
  Session?: string;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

export class EmulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface StateOptions {
  datacenter: string;
  nodeName: string;
  nodeAddress: string;
  timeScale: number;
  /** Consul lets a session live up to this multiple of its TTL without renewal (2 in Consul). */
  sessionTtlMultiplier: number;
}

export class ConsulState {
  index = 1;
  readonly nodes = new Map<string, NodeRecord>();
  readonly services = new Map<string, ServiceRecord>(); // key: node/serviceId
  readonly checks = new Map<string, CheckRecord>(); // key: node/checkId
  readonly sessions = new Map<string, SessionRecord>();
  readonly kv = new Map<string, KvRecord>();
  /** Key → index of its deletion, so prefix queries see deletes (Consul's tombstones). */
  readonly tombstones = new Map<string, number>();
  /** Key → time until which `acquire` fails (lock-delay after an invalidated session held it). */
  readonly lockDelays = new Map<string, number>();
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly options: StateOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.addNode({ Node: options.nodeName, Address: options.nodeAddress, Datacenter: options.datacenter });
  }

  get agentNode(): string {
    return this.options.nodeName;
  }

  scaled(ms: number): number {
    return ms * this.options.timeScale;
  }

  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  bump(): number {
    this.index += 1;
    for (const fn of [...this.#listeners]) fn();
    return this.index;
  }

  addNode(n: { Node: string; Address: string; Datacenter?: string; Meta?: Record<string, string> }): void {
    this.nodes.set(n.Node, { ID: randomUUID(), Node: n.Node, Address: n.Address, Datacenter: n.Datacenter ?? this.options.datacenter, Meta: n.Meta ?? {} });
    const idx = this.bump();
    this.checks.set(`${n.Node}/serfHealth`, {
      node: n.Node,
      CheckID: 'serfHealth',
      Name: 'Serf Health Status',
      Status: 'passing',
      Notes: '',
      Output: 'Agent alive and reachable',
      ServiceID: '',
      ServiceName: '',
      Type: '',
      CreateIndex: idx,
      ModifyIndex: idx,
    });
  }

  datacenters(): Set<string> {
    return new Set([...this.nodes.values()].map((n) => n.Datacenter));
  }

  registerService(
    node: string,
    svc: { ID?: string; Name: string; Tags?: string[]; Address?: string; Port?: number; Meta?: Record<string, string> },
    checks: Array<{ CheckID?: string; Name?: string; TTL?: string; Status?: string; Notes?: string; DeregisterCriticalServiceAfter?: string }>,
  ): void {
    const id = svc.ID ?? svc.Name;
    const key = `${node}/${id}`;
    const idx = this.bump();
    const prev = this.services.get(key);
    this.services.set(key, {
      node,
      ID: id,
      Service: svc.Name,
      Tags: svc.Tags ?? [],
      Address: svc.Address ?? '',
      Port: svc.Port ?? 0,
      Meta: svc.Meta ?? {},
      CreateIndex: prev?.CreateIndex ?? idx,
      ModifyIndex: idx,
    });
    checks.forEach((c, i) => {
      const checkId = c.CheckID ?? (checks.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`);
      const ttlMs = c.TTL === undefined ? undefined : this.scaled(parseDuration(c.TTL, 'Check.TTL'));
      const status = (c.Status ?? 'critical') as CheckStatus;
      if (!['passing', 'warning', 'critical'].includes(status)) throw new EmulatorError(400, `Invalid check status: "${status}"`);
      const now = this.now();
      this.checks.set(`${node}/${checkId}`, {
        node,
        CheckID: checkId,
        Name: c.Name ?? `Service '${svc.Name}' check`,
        Status: status,
        Notes: c.Notes ?? '',
        Output: '',
        ServiceID: id,
        ServiceName: svc.Name,
        Type: ttlMs === undefined ? '' : 'ttl',
        ttlMs,
        expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
        deregisterAfterMs:
          c.DeregisterCriticalServiceAfter === undefined
            ? undefined
            : this.scaled(Math.max(60_000, parseDuration(c.DeregisterCriticalServiceAfter, 'Check.DeregisterCriticalServiceAfter'))),
        criticalSince: status === 'critical' ? now : undefined,
        CreateIndex: idx,
        ModifyIndex: idx,
      });
    });
  }

  deregisterService(node: string, id: string): boolean {
    const key = `${node}/${id}`;
    if (!this.services.delete(key)) return false;
    for (const [k, c] of this.checks)
      if (c.node === node && c.ServiceID === id) {
        this.checks.delete(k);
        this.#checkGone(node, c.CheckID);
      }
    this.bump();
    return true;
  }

  updateCheck(node: string, checkId: string, status: CheckStatus, output: string): void {
    const c = this.checks.get(`${node}/${checkId}`);
    if (!c) throw new EmulatorError(404, `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`);
    if (c.ttlMs === undefined && checkId !== 'serfHealth') throw new EmulatorError(500, `CheckID "${checkId}" does not have associated TTL`);
    const now = this.now();
    if (c.ttlMs !== undefined) c.expiresAt = now + c.ttlMs;
    this.#setStatus(c, status, output, now);
  }

  #setStatus(c: CheckRecord, status: CheckStatus, output: string, now: number): void {
    if (c.Status === status && c.Output === output) return;
    c.Status = status;
    c.Output = output;
    c.criticalSince = status === 'critical' ? (c.criticalSince ?? now) : undefined;
    c.ModifyIndex = this.bump();
    if (status === 'critical') this.#checkGone(c.node, c.CheckID);
  }

  /** Sessions bound to a check are invalidated when it goes critical or is removed. */
  #checkGone(node: string, checkId: string): void {
    for (const s of [...this.sessions.values()]) if (s.Node === node && s.Checks.includes(checkId)) this.invalidateSession(s.ID);
  }

  createSession(body: {
    Name?: string;
    Node?: string;
    LockDelay?: string | number;
    Behavior?: string;
    TTL?: string;
    Checks?: string[];
    NodeChecks?: string[];
    ServiceChecks?: Array<{ ID: string }>;
  }): string {
    const node = body.Node ?? this.agentNode;
    if (!this.nodes.has(node)) throw new EmulatorError(500, `Missing node registration`);
    const behavior = body.Behavior ?? 'release';
    if (behavior !== 'release' && behavior !== 'delete') throw new EmulatorError(400, `Invalid Behavior setting '${behavior}'`);
    let ttlMs: number | undefined;
    if (body.TTL !== undefined && body.TTL !== '') {
      const ttl = parseDuration(body.TTL, 'TTL');
      if (ttl !== 0 && (ttl < 10_000 || ttl > 86_400_000)) throw new EmulatorError(400, `Invalid Session TTL '${body.TTL}', must be between [10s=24h0m0s]`);
      if (ttl > 0) ttlMs = this.scaled(ttl);
    }
    const lockDelay =
      body.LockDelay === undefined ? 15_000 : typeof body.LockDelay === 'number' ? body.LockDelay / 1e6 : parseDuration(body.LockDelay, 'LockDelay');
    const checks = [
      ...(body.Checks ?? (body.NodeChecks || body.ServiceChecks ? [] : ['serfHealth'])),
      ...(body.NodeChecks ?? []),
      ...(body.ServiceChecks ?? []).map((c) => c.ID),
    ];
    for (const id of checks) {
      const c = this.checks.get(`${node}/${id}`);
      if (!c) throw new EmulatorError(500, `Missing check '${id}' registration`);
      if (c.Status === 'critical') throw new EmulatorError(500, `Check '${id}' is in critical state`);
    }
    const idx = this.bump();
    const id = randomUUID();
    this.sessions.set(id, {
      ID: id,
      Name: body.Name ?? '',
      Node: node,
      Checks: checks,
      LockDelayMs: this.scaled(Math.min(lockDelay, 60_000)),
      Behavior: behavior,
      TTL: body.TTL ?? '',
      ttlMs,
      expiresAt: ttlMs === undefined ? undefined : this.now() + ttlMs * this.options.sessionTtlMultiplier,
      CreateIndex: idx,
      ModifyIndex: idx,
    });
    return id;
  }

  renewSession(id: string): SessionRecord {
    const s = this.sessions.get(id);
    if (!s) throw new EmulatorError(404, `Session id '${id}' not found`);
    if (s.ttlMs !== undefined) s.expiresAt = this.now() + s.ttlMs * this.options.sessionTtlMultiplier;
    return s;
  }

  /** Destroy, TTL expiry, a critical check: keys held are released or deleted, and lock-delay starts. */
  invalidateSession(id: string): boolean {
    const s = this.sessions.get(id);
    if (!s) return false;
    this.sessions.delete(id);
    const now = this.now();
    for (const kv of [...this.kv.values()]) {
      if (kv.Session !== id) continue;
      if (s.LockDelayMs > 0) this.lockDelays.set(kv.Key, now + s.LockDelayMs);
      const idx = this.bump();
      if (s.Behavior === 'delete') {
        this.kv.delete(kv.Key);
        this.tombstones.set(kv.Key, idx);
      } else {
        delete kv.Session;
        kv.ModifyIndex = idx;
      }
    }
    this.bump();
    return true;
  }

  /** PUT /v1/kv/:key with acquire / release / cas / flags. */
  putKv(key: string, value: Buffer, q: { acquire?: string; release?: string; cas?: number; flags?: number }): boolean {
    const cur = this.kv.get(key);
    if (q.cas !== undefined) {
      if (q.cas === 0 ? cur !== undefined : cur?.ModifyIndex !== q.cas) return false;
    }
    const flags = q.flags ?? cur?.Flags ?? 0;
    if (q.acquire !== undefined) {
      if (!this.sessions.has(q.acquire)) throw new EmulatorError(500, `invalid session "${q.acquire}"`);
      if (cur?.Session !== undefined && cur.Session !== q.acquire) return false;
      if (cur?.Session === undefined && (this.lockDelays.get(key) ?? 0) > this.now()) return false;
      const idx = this.bump();
      const lockIndex = cur?.Session === q.acquire ? cur.LockIndex : (cur?.LockIndex ?? 0) + 1;
      this.kv.set(key, {
        Key: key,
        Value: value,
        Flags: flags,
        Session: q.acquire,
        LockIndex: lockIndex,
        CreateIndex: cur?.CreateIndex ?? idx,
        ModifyIndex: idx,
      });
      this.tombstones.delete(key);
      return true;
    }
    if (q.release !== undefined) {
      if (!this.sessions.has(q.release)) throw new EmulatorError(500, `invalid session "${q.release}"`);
      if (!cur || cur.Session !== q.release) return false;
      const idx = this.bump();
      delete cur.Session;
      cur.Value = value;
      cur.Flags = flags;
      cur.ModifyIndex = idx;
      return true;
    }
    const idx = this.bump();
    const rec: KvRecord = { Key: key, Value: value, Flags: flags, LockIndex: cur?.LockIndex ?? 0, CreateIndex: cur?.CreateIndex ?? idx, ModifyIndex: idx };
    if (cur?.Session !== undefined) rec.Session = cur.Session;
    this.kv.set(key, rec);
    this.tombstones.delete(key);
    return true;
  }

  deleteKv(key: string, q: { recurse?: boolean; cas?: number }): boolean {
    if (q.recurse) {
      const doomed = [...this.kv.keys()].filter((k) => k.startsWith(key));
      if (doomed.length === 0) return true;
      const idx = this.bump();
      for (const k of doomed) {
        this.kv.delete(k);
        this.tombstones.set(k, idx);
      }
      return true;
    }
    const cur = this.kv.get(key);
    if (q.cas !== undefined && cur?.ModifyIndex !== q.cas) return false;
    if (!cur) return true;
    const idx = this.bump();
    this.kv.delete(key);
    this.tombstones.set(key, idx);
    return true;
  }

  /** X-Consul-Index of a KV query: the newest write or delete at or under `key`. */
  kvIndex(key: string, prefix: boolean): number {
    let max = 0;
    const match = (k: string) => (prefix ? k.startsWith(key) : k === key);
    for (const r of this.kv.values()) if (match(r.Key)) max = Math.max(max, r.ModifyIndex);
    for (const [k, i] of this.tombstones) if (match(k)) max = Math.max(max, i);
    return max === 0 ? this.index : max;
  }

  /** Expires TTL checks and sessions, and reaps services critical for longer than DeregisterCriticalServiceAfter. */
  tick(): void {
    const now = this.now();
    for (const c of [...this.checks.values()]) {
      if (c.expiresAt !== undefined && c.expiresAt <= now && c.Status !== 'critical') this.#setStatus(c, 'critical', 'TTL expired', now);
      if (c.Status === 'critical' && c.deregisterAfterMs !== undefined && c.criticalSince !== undefined && now - c.criticalSince >= c.deregisterAfterMs) {
        this.deregisterService(c.node, c.ServiceID);
      }
    }
    for (const s of [...this.sessions.values()]) if (s.expiresAt !== undefined && s.expiresAt <= now) this.invalidateSession(s.ID);
  }

  /** Test hook: a node's serfHealth goes critical/passing (an agent that died or came back). */
  setNodeHealth(node: string, status: CheckStatus): void {
    const c = this.checks.get(`${node}/serfHealth`);
    if (!c) throw new Error(`unknown node ${node}`);
    this.#setStatus(c, status, status === 'critical' ? 'Agent not live or unreachable' : 'Agent alive and reachable', this.now());
  }
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go duration strings ("10s", "1m30s", "500ms"), as Consul parses them; milliseconds. */
export function parseDuration(text: string, field: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== text.length) throw new EmulatorError(400, `Request decode failed: ${field}: time: invalid duration "${text}"`);
  return total;
}

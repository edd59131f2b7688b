import { z } from 'zod';
import { canonicalize, formatHostPort } from '../../src/address.js';
import { backoffDelay, retry, sleep } from '../../src/backoff.js';
import type { Clock } from '../../src/clock.js';
import { DiscoveryError, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { decodeFirstSeed, decodePoint, encodeFirstSeed, encodePoint } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint } from '../../src/types.js';
import { kvPath, parseBody, type ConsulHttp } from './client.js';
import type { ConsulSession } from './session.js';

const KvEntries = z.array(
  z.object({
    Key: z.string(),
    Value: z.string().nullable(),
    Session: z.string().optional(),
    ModifyIndex: z.number().int().nonnegative(),
  }),
);
const KvResult = z.boolean();
/** PUT /v1/txn answers 200 (applied) or 409 (rolled back) with this body. */
const TxnResult = z.object({
  Results: z
    .array(z.object({ KV: z.object({ Key: z.string(), ModifyIndex: z.number().int().nonnegative() }).partial().optional() }))
    .nullable()
    .optional(),
  Errors: z
    .array(z.object({ OpIndex: z.number().int(), What: z.string() }))
    .nullable()
    .optional(),
});

/** Blocking queries: Consul adds up to wait/16 of jitter; allow that plus a network margin. */
const BLOCKING_MARGIN_MS = 5_000;

/**
 * SeedLock on Consul KV (DESIGN §5.3). Keys under `<keyPrefix>/<service>/`:
 *   lock                   acquired with the node's session (behavior delete)
 *   first-seed             the node that formed the cluster (plain key: outlives its writer's session),
 *                          written by a transaction (/v1/txn) that checks the lock is still held by
 *                          the writer's session and first-seed's ModifyIndex is the one read
 *   members/<host:port>    one per node, acquired with its session, so a dead node's entry goes away
 * Values are JSON `{"host","port"}`. Followers wait with blocking queries on the prefix.
 */
export class ConsulSeedLock implements SeedLock {
  /** X-Consul-Index of the last read of each service's prefix (where waitForChange starts). */
  readonly #index = new Map<string, number>();
  /** Member keys this node holds → value, re-acquired when the session is replaced. */
  readonly #members = new Map<string, string>();

  constructor(
    private readonly http: ConsulHttp,
    private readonly session: ConsulSession,
    private readonly settings: { keyPrefix: string; lockDelaySeconds: number; ttlSeconds: number },
    private readonly context: { clock: Clock; logger: Logger },
  ) {}

  get leaseTtlMs(): number {
    return this.settings.ttlSeconds * 1000;
  }

  confirmLease(options: SeedLockOptions): Promise<void> {
    return this.session.confirm(options.signal);
  }

  base(service: string): string {
    return `${this.settings.keyPrefix.replace(/\/+$/, '')}/${service}/`;
  }

  async readRecord(options: SeedLockOptions): Promise<ClusterRecord> {
    const { entries } = await this.#readPrefix(options.service, { signal: options.signal });
    return this.#record(options.service, entries);
  }

  async readFirstSeed(options: SeedLockOptions): Promise<FirstSeed | undefined> {
    const key = `${this.base(options.service)}first-seed`;
    const res = await this.http.call('GET', kvPath(key), { signal: options.signal, accept: [404] });
    const [entry] = res.status === 404 ? [] : parseBody(KvEntries, res.text, `consul GET ${kvPath(key)}`);
    if (!entry) return undefined;
    const fs = decodeFirstSeedValue(entry.Value, entry.Key);
    if (!fs) this.context.logger.warn({ key: entry.Key }, 'consul: ignoring a first-seed value that is not {"host","port"}');
    return fs;
  }

  confirmedAt(): number | undefined {
    return this.session.confirmedAt;
  }

  async tryLock(self: ContactPoint, options: SeedLockOptions): Promise<HeldLock | undefined> {
    const key = `${this.base(options.service)}lock`;
    let sid = await this.#acquire(key, pointJson(self), options.signal);
    if (sid === undefined && !(await this.#isHeld(key, options.signal))) {
      // Refused with no holder: the lock-delay after a dead holder's session. Nothing will change in
      // KV when it ends (no watch would fire), so wait it out once here.
      await sleep(this.settings.lockDelaySeconds * 1000 + 50, options.signal, this.context.clock);
      sid = await this.#acquire(key, pointJson(self), options.signal);
    }
    if (sid === undefined) return undefined;
    let released = false;
    const written: { last?: Written } = {};
    return {
      writeFirstSeed: (next, expected, o) => this.#fencedWrite(key, sid, next, expected, written, o),
      release: async () => {
        if (released) return;
        released = true;
        // Our session stays alive, so an unreleased lock would block everyone: retry transient failures.
        // "invalid session" (HTTP 500): it expired meanwhile, and Consul already deleted the key.
        await retry(() => this.http.call('PUT', kvPath(key), { query: { release: sid }, accept: [500] }), {
          attempts: 4,
          clock: this.context.clock,
          onRetry: (err) => this.context.logger.warn({ error: describeError(err) }, 'consul: releasing the lock failed; retrying'),
        });
      },
    };
  }

  /**
   * One transaction: check-session on the lock, then cas (or delete-cas) of first-seed at the index read.
   * No read first when the transaction itself can compare: expected absent is a cas at index 0, and
   * after our own write its ModifyIndex (a failure there reads and tries once more, so someone
   * rewriting the same value is no false "changed").
   */
  async #fencedWrite(
    lockKey: string,
    sid: string,
    next: FirstSeed | undefined,
    expected: FirstSeed | undefined,
    written: { last?: Written },
    options: SeedLockOptions,
  ): Promise<boolean> {
    const key = `${this.base(options.service)}first-seed`;
    const last = written.last;
    delete written.last;
    if (next && expected === undefined) return this.#commitFirstSeed(lockKey, sid, key, next, 0, written, options);
    if (last && sameStoredFirstSeed(last.data, expected, key) && (await this.#commitFirstSeed(lockKey, sid, key, next, last.index, written, options)))
      return true;
    const res = await this.http.call('GET', kvPath(key), { signal: options.signal, accept: [404] });
    const [entry] = res.status === 404 ? [] : parseBody(KvEntries, res.text, `consul GET ${kvPath(key)}`);
    const text = entry?.Value === null || entry === undefined ? undefined : Buffer.from(entry.Value, 'base64').toString('utf8');
    if (!sameStoredFirstSeed(text ?? (entry ? '' : undefined), expected, key)) return false;
    if (!next && !entry) return true;
    return this.#commitFirstSeed(lockKey, sid, key, next, entry?.ModifyIndex ?? 0, written, options);
  }

  async #commitFirstSeed(
    lockKey: string,
    sid: string,
    key: string,
    next: FirstSeed | undefined,
    index: number,
    written: { last?: Written },
    options: SeedLockOptions,
  ): Promise<boolean> {
    const data = next && encodeFirstSeed(next);
    const write =
      data !== undefined
        ? { Verb: 'cas', Key: key, Value: Buffer.from(data).toString('base64'), Index: index }
        : { Verb: 'delete-cas', Key: key, Index: index };
    const txn = await this.http.call('PUT', '/v1/txn', {
      body: JSON.stringify([{ KV: { Verb: 'check-session', Key: lockKey, Session: sid } }, { KV: write }]),
      signal: options.signal,
      accept: [409],
    });
    const result = parseBody(TxnResult, txn.text, 'consul PUT /v1/txn');
    if (txn.status === 409) {
      this.context.logger.debug({ key, errors: result.Errors?.map((e) => e.What) }, 'consul: fenced write of first-seed rolled back');
      return false;
    }
    const modifyIndex = result.Results?.find((r) => r.KV?.Key === key)?.KV?.ModifyIndex;
    if (data !== undefined && modifyIndex !== undefined) written.last = { data, index: modifyIndex };
    return true;
  }

  async addMember(self: ContactPoint, options: SeedLockOptions): Promise<void> {
    const key = `${this.base(options.service)}members/${formatHostPort(self)}`;
    const value = pointJson(self);
    this.#members.set(key, value);
    await this.#acquireWithRetry(key, value, options.signal);
  }

  async removeMember(self: ContactPoint, options: SeedLockOptions): Promise<void> {
    const key = `${this.base(options.service)}members/${formatHostPort(self)}`;
    this.#members.delete(key);
    await this.http.call('DELETE', kvPath(key), { signal: options.signal });
  }

  async waitForChange(options: SeedLockOptions & { maxWaitMs: number }): Promise<void> {
    const started = this.context.clock.now();
    let index = this.#index.get(options.service);
    if (index === undefined) index = (await this.#readPrefix(options.service, { signal: options.signal })).index;
    for (;;) {
      const remaining = options.maxWaitMs - (this.context.clock.now() - started);
      if (remaining <= 0) return;
      if (index === 0) {
        // No X-Consul-Index (not a real agent, or a proxy dropped it): no blocking possible, poll instead.
        await sleep(Math.min(remaining, 1_000), options.signal, this.context.clock);
        return;
      }
      const { index: next } = await this.#readPrefix(options.service, {
        signal: options.signal,
        blockAt: index,
        waitMs: Math.max(1, Math.round(remaining)),
      });
      // Consul: an index that goes backwards (store restored, leader change) means "start over": treat as a change.
      if (next !== index) return;
    }
  }

  /** Deletes this node's member entries (a graceful leave; the session is destroyed afterwards). */
  async close(): Promise<void> {
    const keys = [...this.#members.keys()];
    this.#members.clear();
    await Promise.all(
      keys.map((key) =>
        this.http.call('DELETE', kvPath(key), {}).catch((err) => {
          this.context.logger.warn({ key, error: describeError(err) }, 'consul: removing the member entry failed; it goes with the session');
        }),
      ),
    );
  }

  async #readPrefix(service: string, o: { signal?: AbortSignal; blockAt?: number; waitMs?: number }) {
    const path = kvPath(this.base(service));
    const query: Record<string, string | boolean> = { recurse: true };
    if (o.blockAt !== undefined) {
      query.index = String(o.blockAt);
      query.wait = `${o.waitMs}ms`;
    }
    const res = await this.http.call('GET', path, {
      query,
      signal: o.signal,
      accept: [404],
      timeoutMs: o.waitMs === undefined ? undefined : this.http.defaultTimeoutMs + o.waitMs + o.waitMs / 16 + BLOCKING_MARGIN_MS,
    });
    const entries = res.status === 404 ? [] : parseBody(KvEntries, res.text, `consul GET ${path}`);
    const index = res.index ?? 0;
    if (res.index === undefined) this.context.logger.debug({ path }, 'consul: response without X-Consul-Index; blocking queries fall back to polling');
    this.#index.set(service, index);
    return { entries, index };
  }

  #record(service: string, entries: z.output<typeof KvEntries>): ClusterRecord {
    const base = this.base(service);
    const record: ClusterRecord = { members: [] };
    const members: ContactPoint[] = [];
    for (const e of entries) {
      if (e.Key === `${base}first-seed`) {
        const p = decodeFirstSeedValue(e.Value, e.Key);
        if (p) record.firstSeed = p;
        else this.context.logger.warn({ key: e.Key }, 'consul: ignoring a first-seed value that is not {"host","port"}');
      } else if (e.Key.startsWith(`${base}members/`) && e.Session !== undefined) {
        const p = decodeValue(e.Value, e.Key);
        if (p) members.push(p);
        else this.context.logger.warn({ key: e.Key }, 'consul: ignoring a member value that is not {"host","port"}');
      }
    }
    record.members = canonicalize(members);
    return record;
  }

  /** One acquire; the session ID when it succeeded, undefined when another session holds the key or lock-delay is on. */
  async #acquire(key: string, value: string, signal?: AbortSignal): Promise<string | undefined> {
    for (let attempt = 0; ; attempt++) {
      const sid = await this.session.id(signal);
      const res = await this.http.call('PUT', kvPath(key), { query: { acquire: sid }, body: value, signal, accept: [500] });
      if (res.status === 500) {
        if (attempt === 0 && /invalid session/i.test(res.text)) {
          this.session.lost(sid);
          continue;
        }
        throw new DiscoveryError(`consul: acquiring ${key} failed: ${res.text.slice(0, 200)} (HTTP 500)`, { hint: 'the Consul agent failed; check its logs' });
      }
      return parseBody(KvResult, res.text, `consul PUT ${kvPath(key)}`) ? sid : undefined;
    }
  }

  async #isHeld(key: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.http.call('GET', kvPath(key), { signal, accept: [404] });
    if (res.status === 404) return false;
    const [entry] = parseBody(KvEntries, res.text, `consul GET ${kvPath(key)}`);
    return entry?.Session !== undefined;
  }

  /**
   * A member key can be refused for a while: lock-delay after this node's previous session died
   * holding it. Retry with back-off for lock-delay plus a TTL, then report who holds it.
   */
  async #acquireWithRetry(key: string, value: string, signal?: AbortSignal): Promise<void> {
    const deadline = this.context.clock.now() + (this.settings.lockDelaySeconds + this.settings.ttlSeconds) * 1000;
    for (let attempt = 0; ; attempt++) {
      if ((await this.#acquire(key, value, signal)) !== undefined) return;
      if (this.context.clock.now() >= deadline) {
        throw new DiscoveryError(`consul: ${key} is held by another session`, {
          hint: 'another process registered the same address; each node needs its own advertised host:port',
        });
      }
      await sleep(backoffDelay(attempt, { initialMs: 100, maxMs: 2_000 }), signal, this.context.clock);
    }
  }
}

function pointJson(p: ContactPoint): string {
  return encodePoint(p, false);
}

/**
 * A stored value (base64 in the KV response) decoded by `decode`; undefined when it is not one. A
 * malformed value under our prefix is ignored (and logged by the caller) rather than failing every
 * read: the next election overwrites first-seed, and a member entry dies with its writer's session.
 */
function decodeKv<T>(decode: (text: string, key: string) => T, value: string | null, key: string): T | undefined {
  if (value === null) return undefined;
  try {
    return decode(Buffer.from(value, 'base64').toString('utf8'), key);
  } catch {
    return undefined;
  }
}

export const decodeFirstSeedValue = (value: string | null, key: string) => decodeKv(decodeFirstSeed, value, key);
export const decodeValue = (value: string | null, key: string) => decodeKv(decodePoint, value, key);

/** A first-seed value our fenced write left, and its ModifyIndex. */
interface Written {
  data: string;
  index: number;
}

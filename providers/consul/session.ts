import { z } from 'zod';
import { monotonicNow, type Clock, type TimerHandle } from '../../src/clock.js';
import { AbortedError, describeError, DiscoveryError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { encodeSegment, type ConsulHttp } from './client.js';

const SessionCreated = z.object({ ID: z.string().min(1) });

export interface SessionSettings {
  ttlSeconds: number;
  lockDelaySeconds: number;
}

/**
 * The node's one Consul session (behavior "delete"): it holds the lock key and this node's member
 * entries, so when the process dies and the session's TTL runs out, Consul deletes them. Created on
 * first use, renewed every TTL/3; when Consul has invalidated it (TTL missed, agent restarted), a new
 * one is created and `onReplaced` listeners re-acquire what the old one held.
 */
export class ConsulSession {
  #id: string | undefined;
  #creating: Promise<string> | undefined;
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Sessions created so far: any after the first replaces a lost one. */
  #created = 0;
  /** When (monotonic) the latest create or renewal Consul confirmed was sent, for the current session. */
  #confirmedAt: number | undefined;
  readonly #controller = new AbortController();
  readonly #listeners = new Set<(id: string) => void>();

  constructor(
    private readonly http: ConsulHttp,
    private readonly settings: SessionSettings,
    private readonly context: { clock: Clock; logger: Logger },
  ) {}

  /** Called with the new ID whenever a lost session was replaced. */
  onReplaced(fn: (id: string) => void): void {
    this.#listeners.add(fn);
  }

  async id(signal?: AbortSignal): Promise<string> {
    if (this.#id !== undefined) return this.#id;
    this.#creating ??= this.#create(signal).finally(() => {
      this.#creating = undefined;
    });
    return this.#creating;
  }

  /** When (monotonic) the latest create or renewal of the current session that Consul confirmed was sent (SeedLock.confirmedAt). */
  get confirmedAt(): number | undefined {
    return this.#id === undefined ? undefined : this.#confirmedAt;
  }

  #confirmed(id: string, sentAt: number): void {
    if (this.#id === id) this.#confirmedAt = Math.max(this.#confirmedAt ?? sentAt, sentAt);
  }

  /** Renews the session now; rejects when Consul no longer knows it (it was invalidated) or is unreachable. */
  async confirm(signal?: AbortSignal): Promise<void> {
    const id = this.#id;
    if (id === undefined)
      throw new DiscoveryError('consul: the session was lost', { hint: 'a new session is being created; the strategy re-reads the record' });
    const sentAt = monotonicNow(this.context.clock);
    const res = await this.http.call('PUT', `/v1/session/renew/${encodeSegment(id)}`, { accept: [404], signal });
    if (res.status === 404) {
      this.lost(id);
      throw new DiscoveryError('consul: the session was invalidated (TTL missed)', {
        hint: 'a new session is being created; the strategy re-reads the record',
      });
    }
    this.#confirmed(id, sentAt);
    this.#scheduleRenewal();
  }

  /** The agent said `id` is not a valid session (an acquire answered "invalid session"). */
  lost(id: string): void {
    if (this.#id !== id) return;
    this.#id = undefined;
    this.#confirmedAt = undefined;
    this.#timer?.cancel();
    this.context.logger.warn({}, 'consul: the session was invalidated (TTL missed or agent restarted); creating a new one');
  }

  async #create(signal?: AbortSignal): Promise<string> {
    const body = JSON.stringify({
      Name: 'clusterseed',
      Behavior: 'delete',
      TTL: `${this.settings.ttlSeconds}s`,
      LockDelay: `${this.settings.lockDelaySeconds}s`,
    });
    const sentAt = monotonicNow(this.context.clock);
    const { value } = await this.http.json(SessionCreated, 'PUT', '/v1/session/create', { body, signal });
    if (this.#closed) {
      await this.#destroy(value.ID);
      throw new AbortedError('consul: the provider was closed while creating its session');
    }
    const replaced = this.#created > 0;
    this.#created += 1;
    this.#id = value.ID;
    this.#confirmedAt = sentAt;
    this.#scheduleRenewal();
    if (replaced) for (const fn of this.#listeners) fn(value.ID);
    return value.ID;
  }

  #scheduleRenewal(): void {
    this.#timer?.cancel();
    this.#timer = this.context.clock.setTimeout(() => void this.#renew(), Math.max(100, Math.floor((this.settings.ttlSeconds * 1000) / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    const id = this.#id;
    if (id === undefined || this.#closed) return;
    try {
      const sentAt = monotonicNow(this.context.clock);
      const res = await this.http.call('PUT', `/v1/session/renew/${encodeSegment(id)}`, { accept: [404], signal: this.#controller.signal });
      if (this.#closed) return;
      if (res.status !== 404) {
        this.#confirmed(id, sentAt);
        return this.#scheduleRenewal();
      }
      this.lost(id);
      await this.id(this.#controller.signal);
    } catch (err) {
      if (this.#closed) return;
      this.context.logger.warn({ error: describeError(err) }, 'consul: renewing the session failed; retrying');
      if (this.#id === id) this.#scheduleRenewal();
      else this.#retryLater();
    }
  }

  async #retryCreate(): Promise<void> {
    if (this.#closed || this.#id !== undefined) return;
    try {
      await this.id(this.#controller.signal);
    } catch (err) {
      if (this.#closed) return;
      this.context.logger.warn({ error: describeError(err) }, 'consul: creating a session failed; retrying');
      this.#retryLater();
    }
  }

  #retryLater(): void {
    this.#timer = this.context.clock.setTimeout(() => void this.#retryCreate(), 1000);
    this.#timer.unref();
  }

  async #destroy(id: string): Promise<void> {
    await this.http.call('PUT', `/v1/session/destroy/${encodeSegment(id)}`, { accept: [404] }).catch((err) => {
      this.context.logger.warn({ error: describeError(err) }, 'consul: destroying the session failed; it expires with its TTL');
    });
  }

  /** Destroys the session: Consul deletes the keys it still holds. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#controller.abort();
    await this.#creating?.catch(() => {});
    if (this.#id !== undefined) await this.#destroy(this.#id);
    this.#id = undefined;
  }
}

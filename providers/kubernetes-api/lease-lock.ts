import { randomBytes } from 'node:crypto';
import { formatHostPort, sameContactPoint } from '../../src/address.js';
import { retry } from '../../src/backoff.js';
import type { TimerHandle } from '../../src/clock.js';
import { DiscoveryError, describeError } from '../../src/errors.js';
import { encodeFirstSeed } from '../../src/lock/codec.js';
import { sameStoredFirstSeed } from '../../src/lock/record.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint } from '../../src/types.js';
import { Leases, type LeaseApi } from './lease-api.js';
import { changeMembers, type MembersDeps } from './lease-members.js';
import { leaseNames, type LeaseNames } from './lease-names.js';
import { expired, fingerprint, observe, type Fingerprint, type Observation } from './lease-observation.js';
import { pollForChange } from './lease-wait.js';
import {
  annotation,
  FIRST_SEED_ANNOTATION,
  firstSeedOf,
  holderOf,
  membersOf,
  microTime,
  newLease,
  parseLease,
  replaced,
  specOf,
  type LeaseSpec,
  type LeaseWire,
} from './lease-record.js';

/*
 * SeedLock on coordination.k8s.io/v1 Leases (DESIGN §3 kubernetes-api, §5.3, §5.5). RBAC: leases get,
 * create, update — no list, watch or delete (waitForChange polls: lease-wait.ts).
 *
 * Lock: Lease `clusterseed-<service>-lock`, client-go's fields. Acquire = POST (409 AlreadyExists →
 * read it) or PUT with the resourceVersion read, when the holder is empty, is us, or has expired.
 * Expiry is judged as client-go's leaderelection does (lease-observation.ts): renewTime is written
 * for people and tools, never compared.
 *
 * First-seed lives in an annotation of the same Lease, so the fenced write (§5.5.1) is one PUT
 * carrying the resourceVersion of our own last write of that Lease: it succeeds only if nobody wrote
 * the Lease since — no takeover (which changes holderIdentity), no other first-seed — and first-seed
 * is checked against the copy that resourceVersion names. A frozen former holder's PUT carries an old
 * resourceVersion and gets 409; it never writes.
 *
 * Members: Lease `clusterseed-<service>-members`, changed by read-modify-PUT and pruned of pods that
 * are gone (lease-members.ts).
 */

export interface LeaseLockSettings {
  /** The service of the lock strategy (each call's options.service picks the Leases; this is informational). */
  service?: string;
  namespace: string;
  leaseDurationSeconds: number;
  /** holderIdentity; default `<host:port>/<random>`, unique per process incarnation. */
  identity?: string;
  /** waitForChange's longest poll interval [5000 ms, lease-wait.ts]; the first poll comes after 250 ms. */
  pollIntervalMs?: number;
  /** Background renewal interval [leaseDuration / 3]. */
  renewIntervalMs?: number;
}

/** clock and logger for the lock; livePods for pruning the members. */
export type LeaseLockDeps = MembersDeps;

/** The lock as this process holds it: the Lease as our own last write left it. */
interface Hold {
  /** Which tryLock this is: a HeldLock of an earlier generation writes nothing. */
  gen: number;
  lease: LeaseWire;
  timer?: TimerHandle;
}

/** Per service: names, what we last saw, our hold, the write queue. */
interface ServiceState {
  service: string;
  names: LeaseNames;
  /** client-go's observedRecord/observedTime for the lock Lease. */
  observed?: Observation;
  /** What readRecord saw (waitForChange compares to it). */
  seen?: Fingerprint;
  hold?: Hold;
  gen: number;
  /** All writes of this process to the lock Lease, one at a time (renewal vs fenced write vs release). */
  queue: Promise<unknown>;
}

/** The lock was lost: someone else wrote the lock Lease (it expired in their view and they took it). */
class LeaseLostError extends DiscoveryError {}

export class KubernetesLeaseLock implements SeedLock {
  readonly #leases: Leases;
  readonly #settings: LeaseLockSettings;
  readonly #deps: LeaseLockDeps;
  readonly #states = new Map<string, ServiceState>();
  readonly #random = randomBytes(6).toString('hex');
  #identity: string | undefined;
  #closed = false;

  constructor(api: LeaseApi, settings: LeaseLockSettings, deps: LeaseLockDeps) {
    this.#leases = new Leases(api, settings.namespace, () => this.#callTimeoutMs());
    this.#settings = settings;
    this.#deps = deps;
    if (settings.identity !== undefined) this.#identity = settings.identity;
  }

  get leaseTtlMs(): number {
    return this.#settings.leaseDurationSeconds * 1000;
  }

  /** The holderIdentity this process writes (fixed at the first tryLock). */
  identity(self?: ContactPoint): string {
    this.#identity ??= `${self ? formatHostPort(self) : 'clusterseed'}/${this.#random}`;
    return this.#identity;
  }

  /** The Lease names of `service` (sanitised, lease-names.ts). */
  names(service: string): LeaseNames {
    return this.#state(service).names;
  }

  /** Whether this process holds the lock of `service`, as far as its last write/read showed. */
  holding(service: string): boolean {
    return this.#states.get(service)?.hold !== undefined;
  }

  /**
   * Holding: one renewal PUT (CAS on our last resourceVersion), so the caller's lease-age gate
   * measures from a write that proved nobody took the lock over. Not holding: there is no lease of
   * ours to renew — the pod is the registration and lives without us — so one GET proves what the
   * gate can use: the API server answered within the round trip.
   */
  async confirmLease({ service, signal }: SeedLockOptions): Promise<void> {
    const st = this.#state(service);
    if (st.hold) {
      const gen = st.hold.gen;
      await this.#serial(st, () => this.#renew(st, gen, signal));
      return;
    }
    await this.#get(st, 'lock', signal);
  }

  async readRecord({ service, signal }: SeedLockOptions): Promise<ClusterRecord> {
    const st = this.#state(service);
    const [lock, members] = await Promise.all([this.#get(st, 'lock', signal), this.#get(st, 'members', signal)]);
    st.seen = fingerprint(lock, members);
    const record: ClusterRecord = { members: membersOf(members, st.names.members, this.#deps.logger) };
    const firstSeed = firstSeedOf(lock, st.names.lock);
    if (firstSeed) record.firstSeed = firstSeed;
    return record;
  }

  async tryLock(self: ContactPoint, { service, signal }: SeedLockOptions): Promise<HeldLock | undefined> {
    const st = this.#state(service);
    const identity = this.identity(self);
    return this.#serial(st, async () => {
      let lease = await this.#get(st, 'lock', signal);
      if (!lease) {
        const now = microTime(this.#deps.clock.now());
        const spec: LeaseSpec = {
          holderIdentity: identity,
          leaseDurationSeconds: this.#settings.leaseDurationSeconds,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 0,
        };
        const res = await this.#leases.call('create', {
          method: 'POST',
          path: this.#leases.collection(),
          body: newLease(st.names.lock, this.#settings.namespace, service, spec),
          signal,
          accept: [409],
        });
        if (res.status !== 409) return this.#acquired(st, this.#observe(st, parseLease(res.body, st.names.lock)));
        // AlreadyExists: someone created it between our GET and POST. Judge it like any other.
        lease = await this.#get(st, 'lock', signal);
        if (!lease) return undefined;
      }
      const holder = holderOf(lease);
      const mine = holder === identity;
      if (!mine && holder !== '' && !expired(st.observed, this.#deps.clock)) return undefined;
      if (!mine && holder !== '') {
        this.#deps.logger.warn(
          { lease: st.names.lock, holder },
          'kubernetes: the lock holder has not renewed for leaseDurationSeconds (observed on this node); taking the lock over',
        );
      }
      const now = microTime(this.#deps.clock.now());
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: this.#settings.leaseDurationSeconds,
        // Ours already (an earlier acquire whose answer was lost, or a generation never released): no transition.
        acquireTime: mine ? (lease.spec?.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      const written = await this.#put(st, lease, spec, {}, signal);
      return written ? this.#acquired(st, written) : undefined;
    });
  }

  async addMember(self: ContactPoint, options: SeedLockOptions): Promise<void> {
    await this.#changeMembers(options, (list) => (list.some((m) => sameContactPoint(m, self)) ? list : [...list, self]), self);
  }

  async removeMember(self: ContactPoint, options: SeedLockOptions): Promise<void> {
    await this.#changeMembers(options, (list) => list.filter((m) => !sameContactPoint(m, self)), undefined);
  }

  /**
   * Resolves when the lock's holder or first-seed, or the members, differ from what readRecord saw,
   * when the lock held by someone else expires in our observation, or after maxWaitMs (lease-wait.ts).
   */
  async waitForChange({ service, signal, maxWaitMs }: SeedLockOptions & { maxWaitMs: number }): Promise<void> {
    const st = this.#state(service);
    const base = st.seen ?? (await this.#fingerprint(st, signal));
    const target = { read: (s?: AbortSignal) => this.#fingerprint(st, s), observed: () => st.observed, identity: () => this.#identity };
    await pollForChange(base, target, { clock: this.#deps.clock, maxWaitMs, pollIntervalMs: this.#settings.pollIntervalMs, signal });
  }

  /** Stops renewing and releases every lock this process holds (the provider's close()). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#states.values()].map((st) => (st.hold ? this.#release(st, st.hold.gen) : undefined)));
  }

  // ---- the lock ----

  #acquired(st: ServiceState, lease: LeaseWire): HeldLock {
    if (st.hold) this.#stopRenewing(st.hold);
    const hold: Hold = { gen: ++st.gen, lease };
    st.hold = hold;
    this.#deps.logger.debug({ lease: st.names.lock, transitions: lease.spec?.leaseTransitions }, 'kubernetes: lock acquired');
    this.#scheduleRenewal(st, hold);
    return {
      writeFirstSeed: (next, expected, options) => this.#serial(st, () => this.#fencedWrite(st, hold.gen, next, expected, options.signal)),
      release: () => this.#release(st, hold.gen),
    };
  }

  /** The current hold of generation `gen`, or undefined when it was lost, released or replaced. */
  #current(st: ServiceState, gen: number): Hold | undefined {
    return st.hold?.gen === gen ? st.hold : undefined;
  }

  /**
   * §5.5.1 in one PUT: resourceVersion = our own last write of the lock Lease. While that is the
   * Lease's current version nobody else wrote it, so we still hold the lock and its first-seed
   * annotation is exactly the copy we have — which is compared to `expected` before writing.
   */
  async #fencedWrite(st: ServiceState, gen: number, next: FirstSeed | undefined, expected: FirstSeed | undefined, signal?: AbortSignal): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const hold = this.#current(st, gen);
      if (!hold) return false;
      const text = annotation(hold.lease, FIRST_SEED_ANNOTATION);
      if (!sameStoredFirstSeed(text, expected, `Lease ${st.names.lock} annotation ${FIRST_SEED_ANNOTATION}`)) return false;
      if (next === undefined && text === undefined) return true;
      const spec: LeaseSpec = { ...specOf(hold.lease), renewTime: microTime(this.#deps.clock.now()) };
      const written = await this.#put(st, hold.lease, spec, { [FIRST_SEED_ANNOTATION]: next ? encodeFirstSeed(next) : undefined }, signal);
      if (written) {
        hold.lease = written;
        return true;
      }
      // 409: our copy is stale. Still ours (an earlier write of ours whose answer was lost)? Then
      // compare again against the current copy; otherwise the lock was taken over.
      if (!(await this.#readopt(st, gen, signal))) return false;
    }
    return false;
  }

  /** One renewal PUT of the current hold; throws LeaseLostError when someone else wrote the Lease. */
  async #renew(st: ServiceState, gen: number, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const hold = this.#current(st, gen);
      if (!hold) break;
      const written = await this.#put(st, hold.lease, { ...specOf(hold.lease), renewTime: microTime(this.#deps.clock.now()) }, {}, signal);
      if (written) {
        hold.lease = written;
        return;
      }
      if (!(await this.#readopt(st, gen, signal))) break;
    }
    throw new LeaseLostError(`kubernetes: the lock Lease ${st.names.lock} is no longer held by this node (taken over after it expired)`, {
      hint: 'a node that did not renew for leaseDurationSeconds (paused, cut off from the API server) loses the lock; it re-reads the record',
    });
  }

  /**
   * After a 409: re-reads the lock Lease; when its holder still is us, our copy was merely stale (a
   * write of ours whose answer was lost) and the hold continues on the current copy. Only this
   * process writes its identity, and only by CAS on its own last version or by tryLock (a new
   * generation), so "holder is us" means nobody held the lock in between. Otherwise the hold is lost.
   */
  async #readopt(st: ServiceState, gen: number, signal?: AbortSignal): Promise<boolean> {
    const fresh = await this.#get(st, 'lock', signal);
    const hold = this.#current(st, gen);
    if (!hold) return false;
    if (fresh && holderOf(fresh) === this.#identity) {
      hold.lease = fresh;
      return true;
    }
    this.#lose(st, hold, fresh ? `held by ${holderOf(fresh) || 'nobody'}` : 'the Lease was deleted');
    return false;
  }

  #lose(st: ServiceState, hold: Hold, why: string): void {
    if (st.hold !== hold) return;
    this.#stopRenewing(hold);
    st.hold = undefined;
    this.#deps.logger.warn({ lease: st.names.lock, why }, 'kubernetes: lost the lock (the Lease was written by someone else)');
  }

  /** Clears holderIdentity if the lock still is ours; idempotent, never clears someone else's. */
  async #release(st: ServiceState, gen: number): Promise<void> {
    const hold = this.#current(st, gen);
    if (!hold) return;
    this.#stopRenewing(hold);
    st.hold = undefined;
    const timeoutMs = this.#callTimeoutMs();
    try {
      await this.#serial(st, () =>
        retry(
          async () => {
            let lease: LeaseWire | undefined = hold.lease;
            for (let attempt = 0; lease && attempt < 2; attempt++) {
              const spec: LeaseSpec = { ...specOf(lease), holderIdentity: undefined, renewTime: microTime(this.#deps.clock.now()) };
              if (await this.#put(st, lease, spec, {}, AbortSignal.timeout(timeoutMs))) return;
              lease = await this.#get(st, 'lock', AbortSignal.timeout(timeoutMs));
              if (lease && holderOf(lease) !== this.#identity) return; // not ours any more: nothing to release
            }
          },
          { attempts: 3, clock: this.#deps.clock, maxMs: 1000 },
        ),
      );
    } catch (err) {
      this.#deps.logger.warn(
        { lease: st.names.lock, error: describeError(err) },
        'kubernetes: releasing the lock failed; it expires leaseDurationSeconds after the last renewal',
      );
    }
  }

  #scheduleRenewal(st: ServiceState, hold: Hold): void {
    if (this.#closed || st.hold !== hold) return;
    const interval = this.#settings.renewIntervalMs ?? Math.max(200, Math.round(this.leaseTtlMs / 3));
    hold.timer = this.#deps.clock.setTimeout(() => {
      void this.#serial(st, () => this.#renew(st, hold.gen, AbortSignal.timeout(this.#callTimeoutMs())))
        .catch((err: unknown) => {
          if (err instanceof LeaseLostError) return;
          this.#deps.logger.warn({ lease: st.names.lock, error: describeError(err) }, 'kubernetes: renewing the lock failed; retrying at the next interval');
        })
        .finally(() => this.#scheduleRenewal(st, hold));
    }, interval);
    hold.timer.unref();
  }

  #stopRenewing(hold: Hold): void {
    hold.timer?.cancel();
    delete hold.timer;
  }

  #observe(st: ServiceState, lease: LeaseWire): LeaseWire {
    st.observed = observe(st.observed, lease, this.#settings.leaseDurationSeconds, this.#deps.clock);
    return lease;
  }

  #changeMembers({ service, signal }: SeedLockOptions, change: (list: ContactPoint[]) => ContactPoint[], keep: ContactPoint | undefined): Promise<void> {
    const st = this.#state(service);
    return changeMembers(this.#leases, { service, name: st.names.members }, change, keep, this.#deps, signal);
  }

  // ---- wire ----

  async #fingerprint(st: ServiceState, signal?: AbortSignal): Promise<Fingerprint> {
    const [lock, members] = await Promise.all([this.#get(st, 'lock', signal), this.#get(st, 'members', signal)]);
    return fingerprint(lock, members);
  }

  /** GET one of the two Leases; undefined on 404. Lock reads update the expiry observation. */
  async #get(st: ServiceState, which: keyof LeaseNames, signal?: AbortSignal): Promise<LeaseWire | undefined> {
    const lease = await this.#leases.get(st.names[which], signal);
    if (which !== 'lock') return lease;
    if (lease) return this.#observe(st, lease);
    delete st.observed;
    return undefined;
  }

  /**
   * PUT of the lock Lease at `lease`'s resourceVersion; the new object, or undefined on 409 (someone
   * wrote it since). A 201 (Leases are created on update) or 404 means the Lease had been deleted:
   * whatever we thought we held is gone, so that counts as lost too.
   */
  async #put(
    st: ServiceState,
    lease: LeaseWire,
    spec: LeaseSpec,
    annotations: Record<string, string | undefined>,
    signal?: AbortSignal,
  ): Promise<LeaseWire | undefined> {
    const res = await this.#leases.call('update', {
      method: 'PUT',
      path: this.#leases.path(st.names.lock),
      body: replaced(lease, spec, annotations),
      signal,
      accept: [409, 404],
    });
    if (res.status === 409 || res.status === 404) return undefined;
    const written = this.#observe(st, parseLease(res.body, st.names.lock));
    if (res.status === 201) {
      this.#deps.logger.warn({ lease: st.names.lock }, 'kubernetes: the lock Lease had been deleted (someone reset the election); treating the lock as lost');
      return undefined;
    }
    return written;
  }

  /** A renewal that takes longer than half the lease is no use to anyone. */
  #callTimeoutMs(): number {
    return Math.min(10_000, Math.max(1000, Math.round(this.leaseTtlMs / 2)));
  }

  #serial<T>(st: ServiceState, fn: () => Promise<T>): Promise<T> {
    const run = st.queue.then(fn, fn);
    st.queue = run.catch(() => {});
    return run;
  }

  #state(service: string): ServiceState {
    let st = this.#states.get(service);
    if (!st) this.#states.set(service, (st = { service, names: leaseNames(service), gen: 0, queue: Promise.resolve() }));
    return st;
  }
}

import { canonicalize, formatHostPort, sameContactPoint } from '../address.js';
import { abortReason, backoffDelay } from '../backoff.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { BootstrapSettings } from '../config/schema.js';
import { channels, publish } from '../diagnostics.js';
import { describeError, TimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContactPoint } from '../types.js';
import type { ClusterConflict } from './conflict.js';
import { ConflictWatch, conflictCheckIntervalMs } from './conflict-watch.js';
import { decide, gateHint, MAX_SEEDS, pointKey, type Decision, type Gate, type PeerObservation } from './decider.js';
import { PeerProbes } from './peer-probes.js';
import type { ProbeTransport } from './prober.js';
import { wirePoint, type SeedNodesResponse } from './protocol.js';

export interface CoordinatorOptions {
  /** The advertised address (port set). */
  self: ContactPoint;
  settings: BootstrapSettings;
  /** One lookup of the discovered set (the instrumented provider's resolve, or a scripted one). */
  discover: (signal: AbortSignal) => Promise<ContactPoint[]>;
  transport: ProbeTransport;
  /** The application's join; the decision is final once it is called. */
  join: (seeds: ContactPoint[]) => Promise<void>;
  /** The application's current members, reported to peers after joining. */
  members?: (() => ContactPoint[] | Promise<ContactPoint[]>) | undefined;
  /**
   * Called after the decision when a live peer is in another cluster (DESIGN §5.5): once per distinct
   * conflicting first seed while ours survives (yielding: false), and once when ours loses
   * (yielding: true; the conflict checks then stop, this node is leaving).
   */
  onConflict?: ((c: ClusterConflict) => void) | undefined;
  clock: Clock;
  random?: () => number;
  logger: Logger;
  /**
   * Test-only, never in production: the rules before DESIGN §5.5 (no conflict checks after the
   * decision, "lowest first seed" for disagreeing responses), so the simulation's negative control
   * can show that it sees the split brains these rules leave.
   */
  unsafeLegacyRules?: boolean;
}

export interface CoordinatorDecision {
  seeds: ContactPoint[];
  formedNewCluster: boolean;
  /** clock.now() when the decision was made. */
  decidedAt: number;
}

const key = (p: ContactPoint) => formatHostPort(p);

/**
 * The `lowest-address` strategy's moving parts (DESIGN §5.2): a discovery loop, one prober per
 * contact point, and the pure decider evaluated after every event. Time, discovery and the probe
 * transport are injected, so the simulation runs exactly this code on virtual time.
 */
export class Coordinator {
  readonly #o: CoordinatorOptions;
  readonly #random: () => number;
  #view: ContactPoint[] = [];
  #viewKey = '';
  #viewSince: number | undefined;
  #selfInView = false;
  #rawViewKey = '';
  #viewKeys: string[] = [];
  /** The last report and the view it was built from (the undecided report only changes with the view). */
  #reportCache: SeedNodesResponse | undefined;
  #reportView: readonly ContactPoint[] | undefined;
  #reportMembersKey: string | undefined;
  #discoveryFailures = 0;
  #discoveryTimer: TimerHandle | undefined;
  #discoveryInflight: AbortController | undefined;
  #rediscoverPending = false;
  #marginTimer: TimerHandle | undefined;
  /** The evaluation asked for in this turn (#evaluate). */
  #evaluation: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  readonly #observations = new Map<string, PeerObservation>();
  readonly #probes: PeerProbes;
  #seeds: ContactPoint[] = [];
  #startedAt = 0;
  #stopped = false;
  #decided = false;
  #lastWait: { gate: Gate; detail: string } = { gate: 'stable-margin', detail: 'no discovery lookup has completed yet' };
  #warnedSelfMissing = false;
  #settle: { resolve: (d: CoordinatorDecision) => void; reject: (e: unknown) => void } | undefined;
  /** Who waits for report() to change (the endpoint's held long polls). */
  readonly #reportListeners = new Set<() => void>();
  /** After the decision: re-resolves and probes a sample of peers until stop() (DESIGN §5.5.3). */
  #watch: ConflictWatch | undefined;
  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    const { settings, clock, transport, logger } = options;
    this.#probes = new PeerProbes({
      settings,
      clock,
      transport,
      logger,
      random: this.#random,
      observations: this.#observations,
      active: () => this.#active(),
      onResult: () => this.#evaluate(),
    });
  }

  /** Why the node is still waiting (for logs and errors). */
  get waitingOn(): { gate: Gate; detail: string } | undefined {
    return this.#decided ? undefined : this.#lastWait;
  }

  /** True once this node's cluster lost a conflict and onConflict was told to yield. */
  get yielded(): boolean {
    return this.#watch?.yielded ?? false;
  }

  /**
   * Calls `listener` whenever report() may answer differently (the view or the decision changed), so
   * the endpoint answers held long polls at once; returns the unsubscribe.
   */
  onReportChange(listener: () => void): () => void {
    this.#reportListeners.add(listener);
    return () => this.#reportListeners.delete(listener);
  }

  #reportChanged(): void {
    this.#reportCache = undefined;
    for (const listener of [...this.#reportListeners]) listener();
  }

  /** Runs until a decision is made and join() resolved, bootstrapTimeoutMs passes, or `signal` fires. */
  run(signal?: AbortSignal): Promise<CoordinatorDecision> {
    const { clock, settings } = this.#o;
    this.#startedAt = clock.now();
    return new Promise<CoordinatorDecision>((resolve, reject) => {
      const onAbort = () => this.#fail(abortReason(signal!));
      this.#settle = {
        resolve: (d) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(d);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      if (signal?.aborted) return this.#fail(abortReason(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (settings.bootstrapTimeoutMs !== undefined) {
        const ms = settings.bootstrapTimeoutMs;
        this.#deadlineTimer = clock.setTimeout(() => {
          const why = this.#decided ? 'join() did not resolve' : `still waiting on ${this.#lastWait.gate}: ${this.#lastWait.detail}`;
          this.#fail(new TimeoutError(`bootstrap: no decision after ${ms} ms (${why})`, { hint: gateHint(this.#decided ? undefined : this.#lastWait.gate) }));
        }, ms);
      }
      this.#discover();
    });
  }

  /**
   * What GET /bootstrap/seed-nodes answers. `members`: members().length when the application gives
   * members(), else what the conflict watch has seen of our cluster (ConflictWatch.membersSeen); 0
   * while undecided, and 0 with no seeds once this node yielded (it is leaving its cluster, so late
   * joiners must not follow it there).
   */
  async report(): Promise<SeedNodesResponse> {
    const watch = this.#watch;
    const view = watch?.view ?? this.#view;
    const lowest = () => (view[0] ? wirePoint(view[0]) : null);
    if (watch?.yielded) return { self: wirePoint(this.#o.self), seedNodes: [], lowest: lowest(), view: view.length, members: 0 };
    const appMembers = this.#decided ? this.#o.members : undefined;
    let members = watch ? watch.membersSeen() : 0;
    const cached = this.#reportCache;
    // Probes come often and the answer only changes with the view and the count: build it once.
    if (!appMembers && cached && this.#reportView === view && cached.members === members) return cached;
    let seedNodes = this.#seeds;
    if (appMembers && seedNodes.length > 0) {
      try {
        const all = await appMembers();
        const membersKey = all.map(pointKey).join(',');
        // The same members as last time (the usual case): the same answer, without sorting again.
        if (cached && this.#reportView === view && membersKey === this.#reportMembersKey) return cached;
        this.#reportMembersKey = membersKey;
        const sorted = canonicalize(all);
        members = sorted.length;
        seedNodes = [seedNodes[0]!, ...sorted.filter((m) => !sameContactPoint(m, seedNodes[0]!))].slice(0, MAX_SEEDS);
      } catch (err) {
        this.#reportMembersKey = undefined;
        this.#o.logger.warn({ error: describeError(err) }, 'members() failed; reporting the joined seeds');
      }
    }
    const report = { self: wirePoint(this.#o.self), seedNodes: seedNodes.map(wirePoint), lowest: lowest(), view: view.length, members };
    this.#reportCache = report;
    this.#reportView = view;
    return report;
  }

  /** Stops every timer and in-flight request (idempotent). */
  stop(): void {
    this.#stopped = true;
    this.#stopLoops();
    this.#watch?.stop();
    this.#deadlineTimer?.cancel();
  }

  #stopLoops(): void {
    this.#discoveryTimer?.cancel();
    this.#discoveryInflight?.abort();
    this.#marginTimer?.cancel();
    this.#evaluation?.cancel();
    this.#evaluation = undefined;
    this.#probes.stop();
  }

  #fail(err: unknown): void {
    if (this.#stopped) return;
    this.stop();
    this.#settle?.reject(err);
  }

  #active(): boolean {
    return !this.#stopped && !this.#decided;
  }

  /**
   * The provider saw a change (DiscoveryProvider.watch): look up now instead of at the next interval.
   * Only the timing changes: the view goes through the same gates. Not while lookups fail (their
   * back-off stands).
   */
  rediscover(): void {
    if (!this.#active() || this.#settle === undefined || this.#discoveryFailures > 0) return;
    if (this.#discoveryInflight) {
      this.#rediscoverPending = true;
      return;
    }
    this.#discoveryTimer?.cancel();
    this.#discover();
  }

  #discover(): void {
    if (!this.#active()) return;
    this.#rediscoverPending = false;
    const controller = new AbortController();
    this.#discoveryInflight = controller;
    const { settings, logger } = this.#o;
    this.#o
      .discover(controller.signal)
      .then(
        (points) => {
          if (!this.#active()) return;
          this.#discoveryFailures = 0;
          this.#applyView(points);
          this.#scheduleDiscovery(this.#rediscoverPending ? 0 : settings.discoveryIntervalMs);
        },
        (err: unknown) => {
          if (!this.#active()) return;
          // Keep the last good view: a flaky lookup must not restart the stable margin.
          const delay = backoffDelay(
            this.#discoveryFailures++,
            { initialMs: settings.discoveryIntervalMs, maxMs: settings.discoveryMaxBackoffMs },
            this.#random,
          );
          logger.warn({ error: describeError(err), retryInMs: delay, keptView: this.#view.length }, 'discovery lookup failed; keeping the last view');
          this.#scheduleDiscovery(delay);
        },
      )
      .finally(() => {
        if (this.#discoveryInflight === controller) this.#discoveryInflight = undefined;
      });
  }

  #scheduleDiscovery(ms: number): void {
    if (!this.#active()) return;
    this.#discoveryTimer = this.#o.clock.setTimeout(() => this.#discover(), ms);
    this.#evaluate();
  }

  #applyView(discovered: ContactPoint[]): void {
    const { self, clock, settings, logger } = this.#o;
    // Most lookups return the same set: recognise it without sorting (the decider runs hot).
    const rawKey = discovered
      .map((p) => `${p.host}|${p.port ?? self.port ?? ''}`)
      .sort()
      .join(',');
    if (rawKey === this.#rawViewKey && this.#viewSince !== undefined) return;
    this.#rawViewKey = rawKey;
    // Points discovered without a port are probed on the management port every node shares.
    const view = canonicalize(discovered.map((p) => (p.port === undefined && self.port !== undefined ? { ...p, port: self.port } : p)));
    const viewKeys = view.map(pointKey);
    const viewKey = viewKeys.join(',');
    if (viewKey === this.#viewKey && this.#viewSince !== undefined) return;
    this.#view = view;
    this.#viewKeys = viewKeys;
    this.#viewKey = viewKey;
    this.#viewSince = clock.now();
    const selfKey = pointKey(self);
    this.#selfInView = view.some((p) => pointKey(p) === selfKey);
    logger.debug({ view: view.map(key) }, 'discovered set changed; stable margin restarts');
    const wanted = new Set(viewKeys.filter((k) => k !== selfKey));
    // A point that left the view keeps its observation for a failure window (the decider only reads
    // points in the view): one that flaps out of one lookup and back in must not lose its last answer.
    const now = clock.now();
    for (const [k, obs] of this.#observations) {
      if (!wanted.has(k) && now - obs.at > settings.probeFailureWindowMs) this.#observations.delete(k);
    }
    this.#probes.track(view, viewKeys, wanted);
    this.#marginTimer?.cancel();
    this.#marginTimer = clock.setTimeout(() => this.#evaluate(), settings.stableMarginMs);
    this.#reportChanged();
  }

  /**
   * Evaluates the decision in the next turn of the clock, once however many events asked for it in
   * this one: under load a turn handles hundreds of answers, and each evaluation reads every peer.
   * The decision reads the state at that moment (answers, their ages, the view), never a snapshot.
   */
  #evaluate(): void {
    if (this.#evaluation !== undefined || !this.#active()) return;
    this.#evaluation = this.#o.clock.setTimeout(() => {
      this.#evaluation = undefined;
      try {
        this.#evaluateNow();
      } catch (err) {
        // A bug must surface as a failed bootstrap, not as a node that silently never decides.
        this.#fail(err);
      }
    }, 0);
  }

  #evaluateNow(): void {
    if (!this.#active()) return;
    const { clock, settings, self, logger } = this.#o;
    const now = clock.now();
    if (!this.#warnedSelfMissing && !this.#selfInView && this.#viewSince !== undefined && now - this.#startedAt >= settings.stableMarginMs) {
      this.#warnedSelfMissing = true;
      logger.warn(
        { advertised: key(self), discovered: this.#view.map(key) },
        'this node does not find itself among the discovered contact points: it will never form a cluster; ' +
          'check that self (the advertised address) matches what discovery returns',
      );
    }
    const decision = decide({
      self,
      view: this.#view,
      viewKeys: this.#viewKeys,
      viewSince: this.#viewSince,
      observations: this.#observations,
      settings,
      now,
      ...(this.#o.unsafeLegacyRules ? { lowestFirstSeedRule: true } : {}),
    });
    if (decision.kind === 'wait') {
      if (decision.gate !== this.#lastWait.gate) {
        logger.debug({ gate: decision.gate, detail: decision.detail }, 'waiting');
        publish(channels.decision, { strategy: 'lowest-address', waitingOn: decision.gate, detail: decision.detail });
      }
      this.#lastWait = { gate: decision.gate, detail: decision.detail };
      return;
    }
    this.#commit(decision, now);
  }

  #commit(decision: Exclude<Decision, { kind: 'wait' }>, now: number): void {
    const { self, logger, join } = this.#o;
    this.#decided = true;
    this.#stopLoops();
    const formedNewCluster = decision.kind === 'self-join';
    this.#seeds = formedNewCluster ? [wirePoint(self)] : decision.seeds;
    if (decision.kind === 'join' && decision.conflictingFirstSeeds.length > 0) {
      logger.error(
        { joining: key(this.#seeds[0]!), members: decision.members, otherFirstSeeds: decision.conflictingFirstSeeds.map(key) },
        'PEERS REPORT DIFFERENT FIRST SEEDS: more than one cluster exists; ' +
          'joining the one that survives (more members, ties to the lower first seed). ' +
          'Check for a network partition or a discovery misconfiguration',
      );
    }
    this.#watch = this.#newWatch();
    // Peers holding a long poll on this node learn the decision now, not at their next probe.
    this.#reportChanged();
    logger.info({ seeds: this.#seeds.map(key), formedNewCluster }, formedNewCluster ? 'forming a new cluster (self-join)' : 'joining an existing cluster');
    const seeds = this.#seeds.map((p) => ({ ...p }));
    join(seeds).then(
      () => {
        if (this.#stopped) return;
        this.#deadlineTimer?.cancel();
        // Conflict checks start once the application is in its cluster, and run until stop().
        if (!this.#o.unsafeLegacyRules) this.#watch?.start();
        this.#settle?.resolve({ seeds, formedNewCluster, decidedAt: now });
      },
      (err: unknown) => this.#fail(err),
    );
  }

  #newWatch(): ConflictWatch {
    const { self, settings, clock, logger, discover, transport, onConflict } = this.#o;
    return new ConflictWatch({
      self,
      seeds: this.#seeds,
      clock,
      random: this.#random,
      logger,
      discover,
      transport,
      onConflict,
      intervalMs: conflictCheckIntervalMs(settings),
      probeTimeoutMs: settings.probeTimeoutMs,
      initialView: this.#view,
      initialObservations: this.#observations,
    });
  }
}

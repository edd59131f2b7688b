import { canonicalize, formatHostPort, sameContactPoint } from '../address.js';
import { abortReason, backoffDelay } from '../backoff.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { BootstrapSettings } from '../config/schema.js';
import { channels, publish } from '../diagnostics.js';
import { describeError, TimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContactPoint } from '../types.js';
import { Admission, FIRST_CONTACT_RETRY_MS, FIRST_CONTACTS } from './admission.js';
import type { ClusterConflict } from './conflict.js';
import { ConflictWatch, conflictCheckIntervalMs } from './conflict-watch.js';
import { decide, gateHint, MAX_SEEDS, pointKey, type Decision, type Gate, type PeerObservation } from './decider.js';
import type { PollAnswer, ProbeTransport } from './prober.js';
import { LEGACY_MAX_WAIT_MS, wirePoint, type SeedNodesResponse } from './protocol.js';

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

interface Peer {
  point: ContactPoint;
  timer?: TimerHandle | undefined;
  inflight?: AbortController | undefined;
  probeTimeout?: TimerHandle | undefined;
  /** Start of the current run of failed probes (for the one "counts as failed" log line). */
  failingSince?: number | undefined;
  reportedFailed?: boolean;
  /** The ETag of the peer's last answer: it can hold a long poll, so it is asked to wait for a change. */
  etag?: string | undefined;
  /** The longest hold the peer grants, from its last answer. */
  maxWaitMs?: number | undefined;
  /** It answered a probe (also too late to count): later probes reuse that connection and skip the first-contact admission. */
  answered?: boolean;
  /** Its probe holds one of the first-contact slots. */
  admitted?: boolean;
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
  readonly #peers = new Map<string, Peer>();
  readonly #observations = new Map<string, PeerObservation>();
  /** When each point was last probed, so a point re-entering the view is not probed early. */
  readonly #lastProbeAt = new Map<string, number>();
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
  /** Probes of peers that never answered, FIRST_CONTACTS at a time, in view order (lowest first). */
  readonly #firstContacts = new Admission<Peer>(FIRST_CONTACTS, (peer) => {
    if (!this.#active() || this.#peers.get(pointKey(peer.point)) !== peer || peer.inflight) return false;
    peer.admitted = true;
    this.#probe(peer);
    return true;
  });

  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
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
    for (const peer of this.#peers.values()) this.#dropPeer(peer);
    this.#peers.clear();
    this.#firstContacts.clear();
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
    const now = clock.now();
    for (const [k, peer] of this.#peers) {
      if (!wanted.has(k)) {
        // The observation stays (the decider only reads points in the view): a point that flaps out
        // of one lookup and back in must not trigger a probe storm nor lose its last answer.
        this.#dropPeer(peer);
        this.#peers.delete(k);
      }
    }
    for (const [k, obs] of this.#observations) {
      if (!wanted.has(k) && now - obs.at > settings.probeFailureWindowMs) this.#observations.delete(k);
    }
    for (const [k, at] of this.#lastProbeAt) if (!wanted.has(k) && now - at > settings.probeIntervalMs) this.#lastProbeAt.delete(k);
    for (let i = 0; i < view.length; i++) {
      const k = viewKeys[i]!;
      if (wanted.has(k) && !this.#peers.has(k)) {
        const peer: Peer = { point: view[i]! };
        this.#peers.set(k, peer);
        const last = this.#lastProbeAt.get(k);
        const wait = last === undefined ? 0 : Math.max(0, last + settings.probeIntervalMs - now);
        if (wait === 0) this.#startProbe(peer);
        else peer.timer = clock.setTimeout(() => this.#startProbe(peer), wait);
      }
    }
    this.#marginTimer?.cancel();
    this.#marginTimer = clock.setTimeout(() => this.#evaluate(), settings.stableMarginMs);
    this.#reportChanged();
  }

  #dropPeer(peer: Peer): void {
    peer.timer?.cancel();
    peer.probeTimeout?.cancel();
    peer.inflight?.abort();
    this.#releaseSlot(peer);
  }

  #startProbe(peer: Peer): void {
    if (peer.answered) this.#probe(peer);
    else this.#firstContacts.submit(peer);
  }

  #releaseSlot(peer: Peer): void {
    if (!peer.admitted) return;
    peer.admitted = false;
    this.#firstContacts.release();
  }

  #probe(peer: Peer): void {
    if (!this.#active()) return;
    const { clock, settings, logger, transport } = this.#o;
    const id = pointKey(peer.point);
    const target = key(peer.point);
    const controller = new AbortController();
    peer.inflight = controller;
    const started = clock.now();
    this.#lastProbeAt.set(id, started);
    // A peer that sent an ETag can hold the request until its answer changes (the long poll): the
    // wait replaces the interval, so a decision or a view change reaches this node at once.
    const sentEtag = transport.poll ? peer.etag : undefined;
    // One interval for both: a hold that runs its course ends when the next probe is due, so the next
    // poll follows at once; past the longest hold the peer grants, the rest of the interval is waited
    // (one request per probeIntervalMs whatever the interval, as docs/bootstrap.md says).
    const interval = this.#jitteredInterval();
    const waitMs = sentEtag === undefined ? 0 : Math.min(peer.maxWaitMs ?? LEGACY_MAX_WAIT_MS, interval);
    const limitMs = settings.probeTimeoutMs + waitMs;
    let expire: (err: TimeoutError) => void = () => {};
    const expired = new Promise<never>((_, reject) => (expire = reject));
    const timeout = (peer.probeTimeout = clock.setTimeout(() => expire(new TimeoutError(`probe of ${target} timed out after ${limitMs} ms`)), limitMs));
    const request: Promise<PollAnswer> = transport.poll
      ? transport.poll(peer.point, { signal: controller.signal, etag: sentEtag, waitMs })
      : transport.probe(peer.point, { signal: controller.signal }).then((response) => ({ response, etag: undefined, heldMs: 0 }));
    let settled = false;
    request.then(
      () => (settled = true),
      () => (settled = true),
    );
    // The transport should honour the signal; this race makes sure a stopped probe settles at once.
    const aborted = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(abortReason(controller.signal)), { once: true }),
    );
    let next = interval;
    const proceed = () => {
      peer.inflight = undefined;
      if (!this.#active() || this.#peers.get(id) !== peer) return;
      this.#evaluate();
      const delay = Math.max(0, started + next - clock.now());
      if (delay === 0) this.#startProbe(peer);
      else peer.timer = clock.setTimeout(() => this.#startProbe(peer), delay);
    };
    Promise.race([request, expired, aborted])
      .then((answer) => {
        // An answer handled more than probeTimeoutMs after the peer sent it is stale, not fresh: after
        // a pause of this process, the answer buffered before it must not pass for one just received
        // (DESIGN §5.5). The peer's hold counts as its time, never as the answer's age.
        const elapsed = clock.now() - started;
        if (elapsed - Math.min(answer.heldMs, elapsed) > settings.probeTimeoutMs) {
          throw new TimeoutError(`probe of ${target}: the answer came after ${settings.probeTimeoutMs} ms`);
        }
        return answer;
      })
      .then(
        ({ response, etag, maxWaitMs }) => {
          if (peer.inflight !== controller || !this.#active()) return;
          this.#observations.set(id, { response, at: clock.now() });
          peer.etag = etag;
          peer.maxWaitMs = maxWaitMs;
          peer.answered = true;
          // Ask again at once after a change. An unchanged answer is asked again on the interval, which
          // a hold that ran its course has already spent; a peer at its limit of held requests answered
          // without holding, so that wait is the interval.
          if (etag !== undefined && transport.poll && etag !== sentEtag) next = 0;
          if (peer.reportedFailed) logger.info({ target }, 'contact point answers again');
          peer.failingSince = undefined;
          peer.reportedFailed = false;
          if (channels.probe.hasSubscribers)
            publish(channels.probe, { target, durationMs: clock.now() - started, ok: true, seedNodes: response.seedNodes.map(key) });
        },
        (err: unknown) => {
          if (peer.inflight !== controller || !this.#active()) return;
          if (!peer.answered) next = Math.min(next, FIRST_CONTACT_RETRY_MS);
          peer.failingSince ??= started;
          const failingFor = clock.now() - peer.failingSince;
          publish(channels.probe, { target, durationMs: clock.now() - started, ok: false, error: err });
          if (failingFor >= settings.probeFailureWindowMs && !peer.reportedFailed) {
            peer.reportedFailed = true;
            logger.info(
              { target, failingForMs: failingFor, error: describeError(err) },
              'contact point counts as failed (no successful probe within probeFailureWindowMs)',
            );
          } else logger.debug({ target, error: describeError(err) }, 'probe failed');
        },
      )
      .finally(() => {
        timeout.cancel();
        if (peer.inflight !== controller) return;
        // Answered, failed or timed out: either way the next first contact may start.
        this.#releaseSlot(peer);
        if (settled) return proceed();
        // Timed out: the probe counts as failed now, but its request may still be answered. A slow
        // peer is usually a busy one: wait one more probeTimeoutMs for this answer (then discarded as
        // stale) on the same connection, rather than abort it and open another per probe, which turns
        // a burst of load into a collapse (every probe timing out on a new connection).
        this.#evaluate();
        const linger = (peer.probeTimeout = clock.setTimeout(
          () => controller.abort(new TimeoutError(`probe of ${target}: no answer within ${limitMs + settings.probeTimeoutMs} ms`)),
          settings.probeTimeoutMs,
        ));
        Promise.race([request, aborted])
          .then(
            () => {
              // Too late to count (never an observation), but the peer answers on this connection:
              // its next probe reuses it at once, without waiting for a first-contact slot again.
              if (peer.inflight === controller) peer.answered = true;
            },
            () => {},
          )
          .finally(() => {
            linger.cancel();
            if (peer.inflight === controller) proceed();
          });
      });
  }

  #jitteredInterval(): number {
    return Math.round(this.#o.settings.probeIntervalMs * (1 + 0.2 * this.#random()));
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

import { canonicalize, formatHostPort } from '../address.js';
import { abortReason } from '../backoff.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { BootstrapSettings } from '../config/schema.js';
import { describeError, TimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContactPoint } from '../types.js';
import { survivingCluster, type ClusterConflict } from './conflict.js';
import { pointKey, type PeerObservation } from './decider.js';
import type { ProbeTransport } from './prober.js';
import { wirePoint, type SeedNodesResponse } from './protocol.js';

/** DESIGN §5.5.3: at most this many peers are probed in a round without conflict, the lowest of the view among them. */
export const CONFLICT_SAMPLE_SIZE = 5;

/** Default of bootstrap.conflictCheckIntervalMs (DESIGN §5.5.3). */
export const DEFAULT_CONFLICT_CHECK_INTERVAL_MS = 5000;

/** bootstrap.conflictCheckIntervalMs, read tolerantly (settings objects built before the key existed). */
export function conflictCheckIntervalMs(settings: BootstrapSettings): number {
  return (settings as { conflictCheckIntervalMs?: number }).conflictCheckIntervalMs ?? DEFAULT_CONFLICT_CHECK_INTERVAL_MS;
}

export interface ConflictWatchOptions {
  self: ContactPoint;
  /** The seeds this node joined, first seed first (`[self]` when it formed the cluster). */
  seeds: readonly ContactPoint[];
  intervalMs: number;
  probeTimeoutMs: number;
  discover: (signal: AbortSignal) => Promise<ContactPoint[]>;
  transport: ProbeTransport;
  /** Called once per distinct conflicting first seed when ours survives, and once when ours yields. */
  onConflict?: ((c: ClusterConflict) => void) | undefined;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** The view and the peers' last answers at decision time: counting starts from what the decision saw. */
  initialView: readonly ContactPoint[];
  initialObservations: ReadonlyMap<string, PeerObservation>;
}

/**
 * The lowest-address side of DESIGN §5.5 after the decision: every `intervalMs` it re-resolves and
 * probes a bounded sample of peers (the lowest of the view, which every node probes so a cluster not
 * founded by it finds out in one round, plus a rotating window so every peer is covered within
 * ⌈(n−2)/4⌉ rounds). A peer naming another first seed is a conflict. Then, in the same round, it asks
 * every other discovered peer too (a census) and applies the survivor rule to the tallies: each
 * cluster's members are the peers that named its first seed in this round (self counted for ours).
 * Nodes of both clusters that discover the same set count the same answers, so they agree on the
 * survivor (more members, ties to the lower first seed) and only the losing side yields; the counts
 * each responder reports (`members`) are what it has seen so far and differ from node to node (right
 * after a formation they still count 1), so they are not what is compared. After yielding it stops:
 * the node is leaving.
 */
export class ConflictWatch {
  readonly #o: ConflictWatchOptions;
  readonly #firstSeedKey: string;
  readonly #selfKey: string;
  readonly #joinedKeys: Set<string>;
  #view: ContactPoint[] = [];
  #viewKeys: string[] = [];
  #rawViewKey: string | undefined;
  /** pointKey → the first seed (pointKey) the peer named last, '' when it was not in a cluster. */
  readonly #lastFirstSeed = new Map<string, string>();
  #membersSeen: number | undefined;
  #cursor: number | undefined;
  #timer: TimerHandle | undefined;
  readonly #inflight = new Set<AbortController>();
  readonly #notified = new Set<string>();
  #stopped = false;
  #yielded = false;
  #started = false;

  constructor(options: ConflictWatchOptions) {
    this.#o = options;
    this.#firstSeedKey = pointKey(options.seeds[0]!);
    this.#selfKey = pointKey(options.self);
    this.#joinedKeys = new Set(options.seeds.map(pointKey));
    this.#setView(options.initialView);
    for (const k of this.#viewKeys) {
      const first = options.initialObservations.get(k)?.response.seedNodes[0];
      if (options.initialObservations.has(k)) this.#lastFirstSeed.set(k, first ? pointKey(first) : '');
    }
  }

  /** True once this node's cluster lost a conflict (onConflict was called with yielding: true). */
  get yielded(): boolean {
    return this.#yielded;
  }

  /** The latest re-resolved view (canonical order), for the node's own report. */
  get view(): readonly ContactPoint[] {
    return this.#view;
  }

  /**
   * Our members as far as this node knows, without the application's members(): self, plus every
   * currently discovered peer whose last answer named our first seed, plus the seeds we joined that
   * are still discovered and have not answered otherwise. Only discovered peers count: a member whose
   * lease lapsed (paused, cut off, gone) does not make our cluster look bigger than it is.
   */
  membersSeen(): number {
    if (this.#membersSeen !== undefined) return this.#membersSeen;
    let n = 1;
    for (const k of this.#viewKeys) {
      if (k === this.#selfKey) continue;
      const named = this.#lastFirstSeed.get(k);
      if (named === this.#firstSeedKey || (named === undefined && this.#joinedKeys.has(k))) n++;
    }
    return (this.#membersSeen = n);
  }

  /** Starts the rounds (the first one after one interval: the decision has just probed everyone). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#schedule();
  }

  /** Cancels the next round and every probe in flight (idempotent). */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    for (const c of this.#inflight) c.abort();
    this.#inflight.clear();
  }

  /** The next round, one interval after this one ended (so a slow round never overlaps the next). */
  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      // Whatever a round runs into (a throwing onConflict, a bug), the checks go on until stop().
      this.#round()
        .catch((err: unknown) => this.#o.logger.warn({ error: describeError(err) }, 'conflict check failed; trying again next round'))
        .finally(() => this.#schedule());
    }, this.#o.intervalMs);
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    const { discover, logger } = this.#o;
    const lookup = new AbortController();
    this.#inflight.add(lookup);
    try {
      this.#setView(await discover(lookup.signal));
    } catch (err) {
      if (this.#stopped) return;
      // The last view still names peers worth probing; a flaky registry must not stop the checks.
      logger.debug({ error: describeError(err) }, 'conflict check: discovery lookup failed; probing the last view');
    } finally {
      this.#inflight.delete(lookup);
    }
    if (this.#stopped) return;
    const answers = new Map<string, SeedNodesResponse>();
    const sample = this.#sample();
    await this.#probeAll(sample, answers);
    const conflicting = [...answers.values()].some((a) => a.seedNodes[0] !== undefined && pointKey(a.seedNodes[0]) !== this.#firstSeedKey);
    if (conflicting && !this.#stopped) {
      // Before anyone yields, every discovered peer is asked: both sides must count from the same
      // evidence (the peers naming each first seed), not from what each side happened to sample.
      const sampled = new Set(sample.map(pointKey));
      await this.#probeAll(
        this.#view.filter((_, i) => this.#viewKeys[i] !== this.#selfKey && !sampled.has(this.#viewKeys[i]!)),
        answers,
      );
      if (!this.#stopped) this.#judge(answers);
    }
  }

  async #probeAll(peers: readonly ContactPoint[], answers: Map<string, SeedNodesResponse>): Promise<void> {
    await Promise.all(
      peers.map(async (peer) => {
        const answer = await this.#probe(peer);
        if (!answer || this.#stopped) return;
        const k = pointKey(peer);
        answers.set(k, answer);
        const named = answer.seedNodes[0] ? pointKey(answer.seedNodes[0]) : '';
        if (this.#lastFirstSeed.get(k) !== named) {
          this.#lastFirstSeed.set(k, named);
          this.#membersSeen = undefined;
        }
      }),
    );
  }

  /**
   * DESIGN §5.5.4 on a census: each cluster's size is the number of discovered peers that named its
   * first seed in this round (self counted for ours). Nodes of both clusters that discover the same
   * set compute the same tallies, so they agree on the survivor (more members, ties to the lower first
   * seed); only the losing side yields, which only shrinks the loser's tally.
   */
  #judge(answers: ReadonlyMap<string, SeedNodesResponse>): void {
    const clusters = new Map<string, { firstSeed: ContactPoint; seeds: ContactPoint[]; members: number }>();
    clusters.set(this.#firstSeedKey, { firstSeed: wirePoint(this.#o.seeds[0]!), seeds: [...this.#o.seeds], members: 1 });
    for (const answer of answers.values()) {
      const first = answer.seedNodes[0];
      if (!first) continue;
      const k = pointKey(first);
      const c = clusters.get(k);
      if (c) c.members++;
      else clusters.set(k, { firstSeed: first, seeds: answer.seedNodes, members: 1 });
    }
    const ours = clusters.get(this.#firstSeedKey)!;
    const winner = survivingCluster([...clusters.values()]);
    const report = { firstSeed: ours.firstSeed, members: ours.members };
    if (winner !== ours) {
      this.#yielded = true;
      this.stop();
      this.#notify(report, winner, true);
      return;
    }
    for (const [k, theirs] of clusters) {
      if (theirs === ours || this.#notified.has(k)) continue;
      this.#notified.add(k);
      this.#notify(report, theirs, false);
    }
  }

  #notify(
    ours: { firstSeed: ContactPoint; members: number },
    theirs: { firstSeed: ContactPoint; seeds: ContactPoint[]; members: number },
    yielding: boolean,
  ): void {
    this.#o.logger.debug(
      {
        ours: { firstSeed: formatHostPort(ours.firstSeed), members: ours.members },
        theirs: { firstSeed: formatHostPort(theirs.firstSeed), members: theirs.members },
        yielding,
      },
      'conflict check: another cluster answers',
    );
    this.#o.onConflict?.({ strategy: 'lowest-address', ours, theirs: { firstSeed: theirs.firstSeed, seeds: theirs.seeds, members: theirs.members }, yielding });
  }

  #setView(points: readonly ContactPoint[]): void {
    const port = this.#o.self.port;
    // Most lookups return the same set: recognise it without sorting.
    const rawKey = points
      .map((p) => `${p.host}|${p.port ?? port ?? ''}`)
      .sort()
      .join(',');
    if (rawKey === this.#rawViewKey) return;
    this.#rawViewKey = rawKey;
    this.#view = canonicalize(points.map((p) => (p.port === undefined && port !== undefined ? { ...p, port } : p)));
    this.#viewKeys = this.#view.map(pointKey);
    this.#membersSeen = undefined;
  }

  /** The lowest peer, then a window of the others that moves on every round (random first position). */
  #sample(): ContactPoint[] {
    const peers = this.#view.filter((_, i) => this.#viewKeys[i] !== this.#selfKey);
    if (peers.length <= CONFLICT_SAMPLE_SIZE) return peers;
    const rest = peers.slice(1);
    const take = CONFLICT_SAMPLE_SIZE - 1;
    this.#cursor ??= Math.floor(this.#o.random() * rest.length);
    const start = this.#cursor % rest.length;
    this.#cursor = start + take;
    const window = Array.from({ length: take }, (_, i) => rest[(start + i) % rest.length]!);
    return [peers[0]!, ...window];
  }

  /** One probe bounded by probeTimeoutMs; an answer that comes later (after a pause) is dropped as stale. */
  async #probe(peer: ContactPoint): Promise<SeedNodesResponse | undefined> {
    const { clock, probeTimeoutMs, transport, logger } = this.#o;
    const controller = new AbortController();
    this.#inflight.add(controller);
    const started = clock.now();
    const timeout = clock.setTimeout(
      () => controller.abort(new TimeoutError(`probe of ${formatHostPort(peer)} timed out after ${probeTimeoutMs} ms`)),
      probeTimeoutMs,
    );
    const aborted = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(abortReason(controller.signal)), { once: true }),
    );
    try {
      const answer = await Promise.race([transport.probe(peer, { signal: controller.signal }), aborted]);
      return clock.now() - started > probeTimeoutMs ? undefined : answer;
    } catch (err) {
      if (!this.#stopped) logger.debug({ target: formatHostPort(peer), error: describeError(err) }, 'conflict check: probe failed');
      return undefined;
    } finally {
      timeout.cancel();
      this.#inflight.delete(controller);
    }
  }
}

import { formatHostPort } from '../address.js';
import { abortReason } from '../backoff.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { BootstrapSettings } from '../config/schema.js';
import { channels, publish } from '../diagnostics.js';
import { describeError, TimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ContactPoint } from '../types.js';
import { Admission, FIRST_CONTACT_RETRY_MS, FIRST_CONTACTS } from './admission.js';
import { pointKey, type PeerObservation } from './decider.js';
import type { PollAnswer, ProbeTransport } from './prober.js';
import { LEGACY_MAX_WAIT_MS } from './protocol.js';

export interface PeerProbesOptions {
  settings: BootstrapSettings;
  clock: Clock;
  transport: ProbeTransport;
  logger: Logger;
  random: () => number;
  /** Every successful probe's answer goes here, keyed by pointKey (the decider reads it). */
  observations: Map<string, PeerObservation>;
  /** False once the node decided or stopped: no probe starts, no answer is recorded. */
  active: () => boolean;
  /** A probe ended (answered, failed or timed out): the decision may have changed. */
  onResult: () => void;
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

/**
 * One prober per discovered peer (DESIGN §5.2 step 2): no overlapping probes, one keep-alive
 * connection per peer, the long poll where the peer can hold, the linger after a timeout, and the
 * first-contact admission. The coordinator says which peers to probe (track) and reads the answers
 * from the observations it shares.
 */
export class PeerProbes {
  readonly #o: PeerProbesOptions;
  readonly #peers = new Map<string, Peer>();
  /** When each point was last probed, so a point re-entering the view is not probed early. */
  readonly #lastProbeAt = new Map<string, number>();
  /** Probes of peers that never answered, FIRST_CONTACTS at a time, in view order (lowest first). */
  readonly #firstContacts = new Admission<Peer>(FIRST_CONTACTS, (peer) => {
    if (!this.#o.active() || this.#peers.get(pointKey(peer.point)) !== peer || peer.inflight) return false;
    peer.admitted = true;
    this.#probe(peer);
    return true;
  });

  constructor(options: PeerProbesOptions) {
    this.#o = options;
  }

  /**
   * Probes exactly the points whose keys are in `wanted` (the view without self; `view` and `keys`
   * give their order, lowest first): a new one at once, or once its interval since the last probe of
   * it has passed; a point no longer wanted is probed no more.
   */
  track(view: readonly ContactPoint[], keys: readonly string[], wanted: ReadonlySet<string>): void {
    const { clock, settings } = this.#o;
    const now = clock.now();
    for (const [k, peer] of this.#peers) {
      if (!wanted.has(k)) {
        this.#dropPeer(peer);
        this.#peers.delete(k);
      }
    }
    for (const [k, at] of this.#lastProbeAt) if (!wanted.has(k) && now - at > settings.probeIntervalMs) this.#lastProbeAt.delete(k);
    for (let i = 0; i < view.length; i++) {
      const k = keys[i]!;
      if (wanted.has(k) && !this.#peers.has(k)) {
        const peer: Peer = { point: view[i]! };
        this.#peers.set(k, peer);
        const last = this.#lastProbeAt.get(k);
        const wait = last === undefined ? 0 : Math.max(0, last + settings.probeIntervalMs - now);
        if (wait === 0) this.#startProbe(peer);
        else peer.timer = clock.setTimeout(() => this.#startProbe(peer), wait);
      }
    }
  }

  /** Stops every probe and forgets the peers (their last probe times stay). */
  stop(): void {
    for (const peer of this.#peers.values()) this.#dropPeer(peer);
    this.#peers.clear();
    this.#firstContacts.clear();
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
    if (!this.#o.active()) return;
    const { clock, settings, logger, transport } = this.#o;
    const id = pointKey(peer.point);
    const target = formatHostPort(peer.point);
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
      if (!this.#o.active() || this.#peers.get(id) !== peer) return;
      this.#o.onResult();
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
          if (peer.inflight !== controller || !this.#o.active()) return;
          this.#o.observations.set(id, { response, at: clock.now() });
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
            publish(channels.probe, { target, durationMs: clock.now() - started, ok: true, seedNodes: response.seedNodes.map((p) => formatHostPort(p)) });
        },
        (err: unknown) => {
          if (peer.inflight !== controller || !this.#o.active()) return;
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
        this.#o.onResult();
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
    return Math.round(this.#o.settings.probeIntervalMs * (1 + 0.2 * this.#o.random()));
  }
}

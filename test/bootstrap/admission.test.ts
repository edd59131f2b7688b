import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { Admission, FIRST_CONTACT_RETRY_MS, FIRST_CONTACTS } from '../../src/bootstrap/admission.js';
import { Coordinator } from '../../src/bootstrap/coordinator.js';
import type { ProbeTransport } from '../../src/bootstrap/prober.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { DiscoveryError } from '../../src/errors.js';
import { BootstrapSettings } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import type { ContactPoint } from '../../src/types.js';

describe('Admission', () => {
  it('runs at most `limit` at once, in the order submitted, and skips items that no longer need to run', () => {
    const started: number[] = [];
    const stale = new Set([3]);
    const a = new Admission<number>(2, (n) => {
      if (stale.has(n)) return false;
      started.push(n);
      return true;
    });
    for (const n of [1, 2, 3, 4, 5]) a.submit(n);
    expect(started).toEqual([1, 2]);
    expect(a.waiting).toBe(3);
    a.release();
    // 3 is stale: it takes no slot, so 4 starts in the same release.
    expect(started).toEqual([1, 2, 4]);
    a.clear();
    a.release();
    expect(started).toEqual([1, 2, 4]);
    a.submit(6);
    expect(started).toEqual([1, 2, 4, 6]);
  });
});

describe('Coordinator first contacts', () => {
  const self = { host: '10.0.0.1', port: 7626 };
  const peers = Array.from({ length: 20 }, (_, i) => ({ host: `10.0.0.${i + 2}`, port: 7626 }));

  /** A coordinator of `self` on `clock`, probing with `probe`; `view()` is what each lookup returns. */
  function coordinatorWith(clock: VirtualClock, settings: Record<string, unknown>, view: () => ContactPoint[], probe: ProbeTransport['probe'], random = 0.5) {
    return new Coordinator({
      self,
      settings: BootstrapSettings.parse(settings),
      discover: async () => view(),
      transport: { probe, close: async () => {} },
      join: async () => {},
      clock,
      random: () => random,
      logger: silentLogger,
    });
  }

  /** A coordinator whose probes wait until the test answers them; records how many are in flight. */
  function held() {
    const clock = new VirtualClock(1000);
    const pending = new Map<string, () => void>();
    const order: string[] = [];
    const answered = new Set<string>();
    let firstInFlight = 0;
    let maxFirstInFlight = 0;
    /** Probes of answered peers that started while all first-contact slots were taken. */
    let repeatsBesideFull = 0;
    const answer = (p: ContactPoint): SeedNodesResponse => ({ self: p, seedNodes: [], lowest: self, view: 21, members: 0 });
    const coordinator = new Coordinator({
      self,
      // Long timeouts: the test, not the clock, decides when a probe ends.
      settings: BootstrapSettings.parse({ expectedContactPoints: 21, probeTimeoutMs: 60_000, probeFailureWindowMs: 120_000, bootstrapTimeoutMs: 600_000 }),
      discover: async () => [self, ...peers],
      transport: {
        probe: (p, { signal }) =>
          new Promise((resolve, reject) => {
            const k = formatHostPort(p);
            order.push(k);
            const first = !answered.has(k);
            if (first) maxFirstInFlight = Math.max(maxFirstInFlight, ++firstInFlight);
            else if (firstInFlight === FIRST_CONTACTS) repeatsBesideFull++;
            const done = () => {
              pending.delete(k);
              if (first) firstInFlight--;
            };
            pending.set(k, () => {
              done();
              answered.add(k);
              resolve(answer(p));
            });
            signal.addEventListener(
              'abort',
              () => {
                if (!pending.has(k)) return;
                done();
                reject(signal.reason);
              },
              { once: true },
            );
          }),
        close: async () => {},
      },
      join: async () => {},
      clock,
      random: () => 0.5,
      logger: silentLogger,
    });
    return { clock, coordinator, pending, order, maxFirstInFlight: () => maxFirstInFlight, repeatsBesideFull: () => repeatsBesideFull };
  }

  it(`probes at most ${FIRST_CONTACTS} peers it has never heard from at once, lowest first; answered peers are probed without waiting`, async () => {
    const { clock, coordinator, pending, order, maxFirstInFlight, repeatsBesideFull } = held();
    let decided: unknown;
    void coordinator.run().then((d) => (decided = d));
    await clock.advance(10);
    expect(pending.size).toBe(FIRST_CONTACTS);
    expect(order).toEqual(peers.slice(0, FIRST_CONTACTS).map(formatHostPort));
    // Answer the oldest pending probe each round: each first answer lets the next waiting peer in,
    // and the answered peer is asked again on the interval, beside the full slots.
    for (let round = 0; round < 200 && decided === undefined; round++) {
      [...pending.values()][0]?.();
      await clock.advance(300);
    }
    expect(decided).toMatchObject({ formedNewCluster: true });
    expect(maxFirstInFlight()).toBe(FIRST_CONTACTS);
    expect(repeatsBesideFull()).toBeGreaterThan(0);
    // Every peer was first contacted in view order.
    expect([...new Set(order)]).toEqual(peers.map(formatHostPort));
    coordinator.stop();
  });

  it('a peer dropped from the view gives its slot back', async () => {
    const clock = new VirtualClock(1000);
    let view: ContactPoint[] = [self, ...peers];
    const probed: string[] = [];
    const coordinator = coordinatorWith(
      clock,
      { probeTimeoutMs: 60_000, probeFailureWindowMs: 120_000, discoveryIntervalMs: 1000 },
      () => view,
      (p, { signal }) =>
        new Promise((_, reject) => {
          probed.push(formatHostPort(p));
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
    );
    void coordinator.run().catch(() => {});
    await clock.advance(10);
    expect(probed).toHaveLength(FIRST_CONTACTS);
    // The first eight leave the view: their probes are aborted and the next eight start.
    view = [self, ...peers.slice(FIRST_CONTACTS)];
    await clock.advance(1000);
    expect(probed.slice(FIRST_CONTACTS)).toEqual(peers.slice(FIRST_CONTACTS, 2 * FIRST_CONTACTS).map(formatHostPort));
    coordinator.stop();
  });

  it('a peer that never answered is probed again soon after a failed probe; one that answered waits its interval', async () => {
    const clock = new VirtualClock(1000);
    const peer = peers[0]!;
    let up = false;
    const probedAt: number[] = [];
    const coordinator = coordinatorWith(
      clock,
      { probeIntervalMs: 30_000, probeTimeoutMs: 5000, probeFailureWindowMs: 120_000, stableMarginMs: 600_000 },
      () => [self, peer],
      async (p) => {
        probedAt.push(clock.now());
        if (!up) throw new DiscoveryError('probe failed: ECONNREFUSED');
        return { self: p, seedNodes: [], lowest: self, view: 2, members: 0 };
      },
    );
    void coordinator.run().catch(() => {});
    await clock.advance(10);
    expect(probedAt).toEqual([1000]);
    // Still starting: asked again after FIRST_CONTACT_RETRY_MS, not after the 30 s interval.
    await clock.advance(FIRST_CONTACT_RETRY_MS);
    expect(probedAt).toEqual([1000, 1000 + FIRST_CONTACT_RETRY_MS]);
    up = true;
    await clock.advance(FIRST_CONTACT_RETRY_MS);
    expect(probedAt).toHaveLength(3);
    // It answered: from now on a failure waits the interval (33 s with this jitter), like a success.
    up = false;
    await clock.advance(33_000);
    expect(probedAt).toHaveLength(4);
    await clock.advance(30_000);
    expect(probedAt).toHaveLength(4);
    await clock.advance(3_000);
    expect(probedAt).toHaveLength(5);
    coordinator.stop();
  });

  it('a first contact answered too late (during the linger) is probed again at once on its connection, not behind the other first contacts', async () => {
    // Every peer but the first never answers; the first answers each probe 1.5 s after it was sent,
    // past the 1 s timeout but within the linger. Its retry must not queue behind the 19 peers that
    // wait for one of the 8 slots.
    const clock = new VirtualClock(0);
    const slow = formatHostPort(peers[0]!);
    const probesOfSlow: number[] = [];
    const coordinator = coordinatorWith(
      clock,
      { probeTimeoutMs: 1000, probeFailureWindowMs: 60_000, stableMarginMs: 600_000 },
      () => [self, ...peers],
      (p, { signal }) =>
        new Promise((resolve, reject) => {
          if (formatHostPort(p) === slow) {
            probesOfSlow.push(clock.now());
            const t = clock.setTimeout(() => resolve({ self: p, seedNodes: [], lowest: self, view: 21, members: 0 }), 1500);
            signal.addEventListener('abort', () => t.cancel(), { once: true });
          }
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        }),
      0,
    );
    void coordinator.run().catch(() => {});
    await clock.advance(1600);
    expect(probesOfSlow).toEqual([0, 1500]);
    coordinator.stop();
  });
});

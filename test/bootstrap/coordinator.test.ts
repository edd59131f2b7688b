import { describe, expect, it } from 'vitest';
import { formatHostPort } from '../../src/address.js';
import { Coordinator } from '../../src/bootstrap/coordinator.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { BootstrapSettings } from '../../src/config/schema.js';
import { DiscoveryError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import type { ContactPoint } from '../../src/types.js';

const A = { host: '10.0.0.1', port: 7626 },
  B = { host: '10.0.0.2', port: 7626 };

function recordingLogger() {
  const lines: { level: string; msg: string; obj: unknown }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, msg: msg ?? String(obj), obj });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

function setup(
  over: { view?: () => ContactPoint[] | Promise<ContactPoint[]>; peer?: (p: ContactPoint) => SeedNodesResponse; settings?: object; self?: ContactPoint } = {},
) {
  const clock = new VirtualClock(1000);
  const { logger, lines } = recordingLogger();
  const self = over.self ?? A;
  let lookups = 0;
  const coordinator = new Coordinator({
    self,
    settings: BootstrapSettings.parse({ stableMarginMs: 5000, ...over.settings }),
    discover: async () => {
      lookups++;
      return (over.view ?? (() => [A, B]))();
    },
    transport: {
      probe: async (p) => (over.peer ?? ((q) => ({ self: q, seedNodes: [], lowest: A, view: 2, members: 0 })))(p),
      close: async () => {},
    },
    join: async () => {},
    clock,
    random: () => 0.5,
    logger,
  });
  return { clock, coordinator, lines, lookups: () => lookups };
}

describe('Coordinator on virtual time', () => {
  it('self-joins after the stable margin, not before', async () => {
    const { clock, coordinator } = setup();
    let decided: unknown;
    void coordinator.run().then((d) => (decided = d));
    await clock.advance(4500);
    expect(decided).toBeUndefined();
    expect(coordinator.waitingOn?.gate).toBe('stable-margin');
    await clock.advance(1000);
    expect(decided).toMatchObject({ formedNewCluster: true, seeds: [A] });
    // Decided: the decision loop is gone, only the conflict check's next round is pending (DESIGN §5.5.3).
    expect(clock.pending).toBe(1);
    expect(await coordinator.report()).toMatchObject({ seedNodes: [A], members: 1 });
    coordinator.stop();
    expect(clock.pending).toBe(0);
  });

  it('reports members 0 while undecided', async () => {
    const { clock, coordinator } = setup();
    void coordinator.run();
    await clock.advance(1000);
    expect(await coordinator.report()).toMatchObject({ seedNodes: [], members: 0, view: 2, lowest: A });
    coordinator.stop();
  });

  it('a failed lookup keeps the last view and does not restart the stable margin; a changed set does', async () => {
    let n = 0;
    const views: (() => ContactPoint[])[] = [
      () => [A, B],
      () => {
        throw new DiscoveryError('boom');
      },
    ];
    const { clock, coordinator, lines } = setup({ view: () => views[Math.min(n++, 1)]!() });
    let decided: { decidedAt: number } | undefined;
    void coordinator.run().then((d) => (decided = d));
    await clock.advanceUntil(() => decided !== undefined, 20_000);
    expect(decided!.decidedAt - 1000).toBeLessThanOrEqual(5000 + 1200);
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('keeping the last view'))).toBe(true);

    // A set that changes at 3 s restarts the margin.
    const C = { host: '10.0.0.3', port: 7626 };
    let m = 0;
    const s2 = setup({ view: () => (m++ < 3 ? [A, B] : [A, B, C]), peer: (p) => ({ self: p, seedNodes: [], lowest: A, view: 3, members: 0 }) });
    let d2: { decidedAt: number } | undefined;
    void s2.coordinator.run().then((d) => (d2 = d));
    await s2.clock.advanceUntil(() => d2 !== undefined, 20_000);
    expect(d2!.decidedAt - 1000).toBeGreaterThanOrEqual(3000 + 5000);
  });

  it('warns once when self is not among the discovered points, and times out naming the gate', async () => {
    const X = { host: '10.0.0.9', port: 7626 };
    const { clock, coordinator, lines } = setup({ self: X, settings: { bootstrapTimeoutMs: 8000 } });
    const result = coordinator.run().catch((e: unknown) => e);
    await clock.advance(9000);
    expect(await result).toMatchObject({ code: 'CLUSTERSEED_E_TIMEOUT', message: expect.stringContaining('not-lowest') });
    const warns = lines.filter((l) => l.level === 'warn' && l.msg.includes('does not find itself'));
    expect(warns).toHaveLength(1);
    expect(JSON.stringify(warns[0]!.obj)).toContain(formatHostPort(X));
    expect(clock.pending).toBe(0);
  });

  it('a peer that never answers blocks self-join until discovery drops it', async () => {
    let dropped = false;
    const { clock, coordinator } = setup({
      view: () => (dropped ? [A] : [A, B]),
      peer: () => {
        throw new DiscoveryError('refused');
      },
      settings: { requiredContactPoints: 1 },
    });
    let decided: unknown;
    void coordinator.run().then((d) => (decided = d));
    await clock.advance(10_000);
    expect(decided).toBeUndefined();
    expect(coordinator.waitingOn?.gate).toBe('unconfirmed-contact-points');
    dropped = true;
    await clock.advanceUntil(() => decided !== undefined, 10_000);
    expect(decided).toMatchObject({ formedNewCluster: true });
  });

  it('a hanging probe is cut off by probeTimeoutMs, then retried', async () => {
    const clock = new VirtualClock(0);
    let probes = 0;
    const c = new Coordinator({
      self: A,
      settings: BootstrapSettings.parse({ probeTimeoutMs: 300, probeIntervalMs: 1000 }),
      clock,
      random: () => 0,
      logger: recordingLogger().logger,
      discover: async () => [A, B],
      transport: {
        probe: () => {
          probes++;
          return new Promise(() => {});
        },
        close: async () => {},
      },
      join: async () => {},
    });
    const aborted = new AbortController();
    const r = c.run(aborted.signal).catch((e: unknown) => e);
    await clock.advance(2700); // probes at 0, 1300, 2600 (300 ms timeout + 1000 ms interval)
    expect(probes).toBe(3);
    expect(c.waitingOn?.gate).toBe('required-contact-points');
    aborted.abort();
    expect(await r).toMatchObject({ code: 'CLUSTERSEED_E_ABORTED' });
    expect(clock.pending).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { Coordinator } from '../../src/bootstrap/coordinator.js';
import { BootstrapSettings } from '../../src/config/schema.js';
import { parseConfig } from '../../src/config/load.js';
import { ClusterseedError } from '../../src/errors.js';
import { resolveSelfAddress } from '../../src/self-address/index.js';
import { resolveInterfaceAddress } from '../../src/self-address/interface.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import type { ContactPoint } from '../../src/types.js';

const A = { host: '10.0.0.1', port: 7626 },
  B = { host: '10.0.0.2', port: 7626 },
  C = { host: '10.0.0.3', port: 7626 };

describe('self-address mode kubernetes (DESIGN §5.4)', () => {
  it('advertises POD_IP from the downward API', async () => {
    expect(await resolveSelfAddress({ mode: 'kubernetes', env: { POD_IP: '10.1.2.3' } })).toEqual({ host: '10.1.2.3', source: 'kubernetes-pod-ip' });
    expect(await resolveSelfAddress({ mode: 'kubernetes', env: { POD_IP: 'fd00::0a' } })).toMatchObject({ host: 'fd00::a' });
  });

  it('rejects a POD_IP that is not an IP, naming the downward API', async () => {
    const err = await resolveSelfAddress({ mode: 'kubernetes', env: { POD_IP: 'status.podIP' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterseedError);
    expect((err as ClusterseedError).code).toBe('CLUSTERSEED_E_METADATA');
    expect((err as ClusterseedError).hint).toContain('fieldPath: status.podIP');
  });

  it('falls back to the pod interface without POD_IP', async () => {
    // Whatever this machine's interfaces are, mode kubernetes without POD_IP answers as the interface picker does.
    let expected: string;
    try {
      expected = resolveInterfaceAddress();
    } catch (err) {
      await expect(resolveSelfAddress({ mode: 'kubernetes', env: {} })).rejects.toThrow((err as Error).message);
      return;
    }
    expect(await resolveSelfAddress({ mode: 'kubernetes', env: {} })).toEqual({ host: expected, source: 'kubernetes-interface' });
  });

  it('auto picks Kubernetes after ECS, before EC2 (a pod on EC2 must not advertise its node)', async () => {
    expect(
      await resolveSelfAddress({
        mode: 'auto',
        env: { POD_IP: '10.9.8.7', KUBERNETES_SERVICE_HOST: '10.96.0.1', AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1' },
      }),
    ).toMatchObject({ host: '10.9.8.7', source: 'kubernetes-pod-ip' });
  });
});

describe('config rules for kubernetes-api', () => {
  it('accepts the Pekko alias and rewrites it', () => {
    const config = parseConfig({ service: 's', discovery: { method: 'pekko-kubernetes-api' } });
    expect(config.discovery).toMatchObject({ method: 'kubernetes-api', readyOnly: false, leaseDurationSeconds: 15 });
  });

  it('rejects http:// API servers: TLS is always verified', () => {
    expect(() => parseConfig({ service: 's', discovery: { method: 'kubernetes-api', apiServer: 'http://10.96.0.1' } })).toThrow(/discovery\.apiServer.*https/);
  });

  it('the lock strategy needs portName, before anything starts', () => {
    expect(() => parseConfig({ service: 's', discovery: { method: 'kubernetes-api' }, bootstrap: { strategy: 'lock' } })).toThrow(/discovery\.portName/);
    expect(
      parseConfig({ service: 's', discovery: { method: 'kubernetes-api', portName: 'management' }, bootstrap: { strategy: 'lock' } }).bootstrap.strategy,
    ).toBe('lock');
  });

  it('self.mode kubernetes is accepted', () => {
    expect(parseConfig({ service: 's', self: { mode: 'kubernetes' } }).self.mode).toBe('kubernetes');
  });
});

describe('Coordinator.rediscover (a provider watch)', () => {
  function setup(view: () => ContactPoint[]) {
    const clock = new VirtualClock(1000);
    let lookups = 0;
    const coordinator = new Coordinator({
      self: A,
      settings: BootstrapSettings.parse({ stableMarginMs: 5000, expectedContactPoints: 3, discoveryIntervalMs: 1000 }),
      discover: async () => {
        lookups++;
        return view();
      },
      transport: { probe: async (p) => ({ self: p, seedNodes: [], lowest: A, view: 3, members: 0 }), close: async () => {} },
      join: async () => {},
      clock,
      random: () => 0.5,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    return { clock, coordinator, lookups: () => lookups };
  }

  it('a change looks up at once instead of at the next interval, and decides on it', async () => {
    let points = [A, B];
    const { clock, coordinator, lookups } = setup(() => points);
    let decided: { decidedAt: number } | undefined;
    void coordinator.run().then((d) => (decided = d));
    await clock.advance(100);
    expect(lookups()).toBe(1);
    points = [A, B, C];
    coordinator.rediscover();
    await clock.advance(0);
    expect(lookups()).toBe(2);
    // Fast path (expectedContactPoints 3) needs every point probed: the probes go at once too.
    await clock.advanceUntil(() => decided !== undefined, 900);
    expect(decided).toBeDefined();
    coordinator.stop();
  });

  it('without rediscover the same change waits for the interval (the broken variant the test above catches)', async () => {
    let points = [A, B];
    const { clock, coordinator, lookups } = setup(() => points);
    void coordinator.run();
    await clock.advance(100);
    points = [A, B, C];
    await clock.advance(500);
    expect(lookups()).toBe(1);
    coordinator.stop();
  });

  it('is a no-op before run() and after stop()', async () => {
    const { coordinator, lookups } = setup(() => [A]);
    coordinator.rediscover();
    expect(lookups()).toBe(0);
    coordinator.stop();
    coordinator.rediscover();
    expect(lookups()).toBe(0);
  });
});

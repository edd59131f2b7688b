import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDns1123Label, leaseNames, MAX_NAME_LENGTH } from '../../providers/kubernetes-api/lease-names.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { makeLock, point, rawApi } from './lease-helpers.js';

describe('Lease names (DNS-1123, ≤ 63 characters)', () => {
  it('keeps a clean service name readable, without a hash', () => {
    expect(leaseNames('orders')).toEqual({ lock: 'clusterseed-orders-lock', members: 'clusterseed-orders-members' });
    expect(leaseNames('my-service-2')).toEqual({ lock: 'clusterseed-my-service-2-lock', members: 'clusterseed-my-service-2-members' });
  });

  it('sanitises, and adds a hash when sanitising changed the name (no collisions)', () => {
    const variants = ['My_Service', 'my-service', 'my.service', 'MY SERVICE', 'my--service', '-my-service-', 'my_service'];
    const names = variants.map((s) => leaseNames(s).lock);
    expect(new Set(names).size).toBe(variants.length);
    for (const n of names) expect(isDns1123Label(n)).toBe(true);
    expect(leaseNames('My_Service').lock).toMatch(/^clusterseed-my-service-[0-9a-f]{8}-lock$/);
  });

  it('truncates long names to 63 characters with a hash, so two long names stay apart', () => {
    const a = 'a'.repeat(100),
      b = `${'a'.repeat(99)}b`;
    for (const s of [a, b, 'x'.repeat(44), 'x'.repeat(43), `${'x'.repeat(33)}-${'y'.repeat(30)}`]) {
      const n = leaseNames(s);
      expect(n.lock.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
      expect(n.members.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
      expect(isDns1123Label(n.lock) && isDns1123Label(n.members)).toBe(true);
    }
    expect(leaseNames(a).lock).not.toBe(leaseNames(b).lock);
    expect(leaseNames('x'.repeat(43)).members).toBe(`clusterseed-${'x'.repeat(43)}-members`); // exactly fits
    expect(leaseNames('x'.repeat(44)).members).toMatch(/-[0-9a-f]{8}-members$/);
  });

  it('gives a name even to a service with no usable character', () => {
    const n = leaseNames('___');
    expect(n.lock).toMatch(/^clusterseed-[0-9a-f]{8}-lock$/);
    expect(leaseNames('___').lock).not.toBe(leaseNames('__').lock);
  });

  describe('against the emulator', () => {
    let emu: KubernetesEmulator;
    beforeAll(async () => {
      emu = await startKubernetesEmulator();
    });
    afterAll(async () => {
      await emu?.close();
    });

    it('the API server accepts them, and keeps the original service name in an annotation', async () => {
      const service = `Payments_API.${'v'.repeat(80)}`;
      const lock = makeLock(rawApi(emu), { leaseDurationSeconds: 15 });
      const held = await lock.tryLock(point(1), { service });
      expect(held).toBeDefined();
      await lock.addMember(point(1), { service });
      const names = leaseNames(service);
      const stored = emu.lease('default', names.lock);
      expect(stored.metadata.annotations['clusterseed.io/service']).toBe(service);
      expect(stored.metadata.labels['app.kubernetes.io/managed-by']).toBe('clusterseed');
      expect(emu.lease('default', names.members)).toBeDefined();
      await lock.close();
    });
  });
});

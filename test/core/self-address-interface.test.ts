import type os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, DiscoveryError } from '../../src/errors.js';
import { resolveSelfAddress } from '../../src/self-address/index.js';
import { resolveInterfaceAddress } from '../../src/self-address/interface.js';

const nic = (address: string, internal = false): os.NetworkInterfaceInfo =>
  ({ address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` }) as os.NetworkInterfaceInfo;

const twoNics = { lo: [nic('127.0.0.1', true)], eth0: [nic('10.0.0.5')], eth1: [nic('192.168.1.7')] };

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('self-address: interface', () => {
  it('picks the single non-internal IPv4, or the one self.interface names', () => {
    expect(resolveInterfaceAddress(undefined, { lo: [nic('127.0.0.1', true)], eth0: [nic('10.0.0.5')] })).toBe('10.0.0.5');
    expect(resolveInterfaceAddress('eth1', twoNics)).toBe('192.168.1.7');
    expect(resolveInterfaceAddress('10.0.0.0/16', twoNics)).toBe('10.0.0.5');
  });

  it('several addresses: a ConfigError naming self.interface and listing the candidates (its fix is configuration)', () => {
    const err = thrown(() => resolveInterfaceAddress(undefined, twoNics));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(DiscoveryError);
    const e = err as ConfigError;
    expect(e.code).toBe('CLUSTERSEED_E_CONFIG');
    expect(e.retriable).toBe(false);
    expect(e.message).toMatch(/^self\.interface: /);
    expect(e.message).toContain('several non-internal IPv4 addresses'); // quoted in docs/guides/troubleshooting.md
    expect(e.message).toContain('eth0=10.0.0.5');
    expect(e.message).toContain('eth1=192.168.1.7');
    expect(e.message).not.toContain('127.0.0.1');
    expect(e.hint).toContain('self.interface');
  });

  it('a CIDR that matches several is the same ConfigError, listing those it matched', () => {
    const err = thrown(() => resolveInterfaceAddress('0.0.0.0/0', twoNics)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^self\.interface: "0\.0\.0\.0\/0" matches several/);
    expect(err.message).toContain('eth0=10.0.0.5, eth1=192.168.1.7');
  });

  it('self.interface that matches nothing is a ConfigError listing the candidates', () => {
    const err = thrown(() => resolveInterfaceAddress('eth9', twoNics)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^self\.interface: no non-internal IPv4 address matches "eth9" \(candidates: eth0=10\.0\.0\.5, eth1=192\.168\.1\.7\)$/);
  });

  it('a machine without any non-internal IPv4 (nothing selected) stays a non-retriable DiscoveryError', () => {
    const err = thrown(() => resolveInterfaceAddress(undefined, { lo: [nic('127.0.0.1', true)] })) as DiscoveryError;
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err.retriable).toBe(false);
  });

  it('resolveSelfAddress (mode interface) passes the ConfigError through (the CLI exits 2 for it)', async () => {
    await expect(resolveSelfAddress({ mode: 'interface', interface: 'no-such-nic-0' })).rejects.toBeInstanceOf(ConfigError);
  });
});

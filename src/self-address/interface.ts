import net from 'node:net';
import os from 'node:os';
import { ConfigError, DiscoveryError } from '../errors.js';

type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!base || !net.isIPv4(base) || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    throw new ConfigError(`self.interface: "${cidr}" is neither an interface name nor an IPv4 CIDR`, { hint: 'e.g. "eth1" or "10.0.0.0/16"' });
  }
  const toInt = (a: string) => a.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}

/**
 * The single non-internal IPv4 of this machine; `select` (an interface name or a CIDR) picks one
 * when there are several. Ambiguity is a ConfigError naming `self.interface` that lists the candidates,
 * never a guess: its fix is configuration.
 */
export function resolveInterfaceAddress(select?: string, interfaces: Interfaces = os.networkInterfaces()): string {
  const candidates: { name: string; address: string }[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === 'IPv4' && !info.internal) candidates.push({ name, address: info.address });
    }
  }
  let chosen = candidates;
  if (select !== undefined) {
    chosen = select.includes('/') ? candidates.filter((c) => inCidr(c.address, select)) : candidates.filter((c) => c.name === select);
  }
  const list = candidates.map((c) => `${c.name}=${c.address}`).join(', ') || 'none';
  if (chosen.length === 1) return chosen[0]!.address;
  // What is wrong here is the configuration (self.interface or self.host), not a backend: ConfigError.
  if (chosen.length === 0 && select !== undefined) {
    throw new ConfigError(`self.interface: no non-internal IPv4 address matches "${select}" (candidates: ${list})`, {
      hint: "set self.interface to one of the candidates' interface names or a CIDR that contains one, or set self.host",
    });
  }
  if (chosen.length === 0) {
    throw new DiscoveryError('self-address: this machine has no non-internal IPv4 address', {
      retriable: false,
      hint: 'set self.host explicitly, or self.interface to an interface name or CIDR',
    });
  }
  const several = chosen.map((c) => `${c.name}=${c.address}`).join(', ');
  throw new ConfigError(
    select === undefined
      ? `self.interface: several non-internal IPv4 addresses, choose one (candidates: ${several})`
      : `self.interface: "${select}" matches several non-internal IPv4 addresses, choose one (candidates: ${several})`,
    { hint: 'set self.interface to an interface name such as "eth1" or a narrower CIDR such as "10.0.0.0/16", or set self.host' },
  );
}

/*
 * Names and addresses of a test network, in one place so the sweep recognises exactly what a run
 * creates. Everything carries the creating process's pid, so a leftover can be told from the network
 * of a run that is still alive:
 *   namespaces  cs-<pid>-hub (holds the bridge csbr<subnet>) and cs-<pid>-<node>
 *   root link   csh<subnet>  (the observer's veth into the hub; ifalias "clusterseed-test pid=<pid>")
 * Addresses come only from 198.18.0.0/15 (RFC 2544 benchmarking, never routed): subnet k (0–511) is
 * 198.(18 + k div 256).(k mod 256).0/24; nodes get .1–.200 and the observer (this process) .254.
 */

export const NS_PREFIX = 'cs-';
export const BRIDGE_PREFIX = 'csbr';
export const ROOT_LINK_PREFIX = 'csh';
export const SUBNETS = 512;
export const OBSERVER_HOST = 254;
export const MAX_NODE_HOST = 200;
/** One table per namespace, inet family: it drops IPv4 and IPv6 alike. */
export const NFT_TABLE = 'clusterseed_partition';
export const LINK_ALIAS_PREFIX = 'clusterseed-test pid=';

/** Namespace names: cs-<pid>-<name>; names are short identifiers so they fit in shell commands. */
export function namespaceName(pid: number, name: string): string {
  if (!/^[a-z0-9]{1,20}$/.test(name)) throw new Error(`netns: node name "${name}" must be 1–20 characters of [a-z0-9]`);
  return `${NS_PREFIX}${pid}-${name}`;
}

export const hubName = (pid: number) => namespaceName(pid, 'hub');

/** The pid that created a namespace of ours, or undefined for a name that is not ours. */
export function namespaceOwner(ns: string): number | undefined {
  const m = /^cs-(\d+)-[a-z0-9]+$/.exec(ns);
  return m ? Number(m[1]) : undefined;
}

/** The pid recorded on a root link of ours (its ifalias), or undefined. */
export function linkOwner(name: string, alias: string | undefined): number | undefined {
  if (!new RegExp(`^${ROOT_LINK_PREFIX}\\d+$`).test(name) || !alias?.startsWith(LINK_ALIAS_PREFIX)) return undefined;
  const pid = Number(alias.slice(LINK_ALIAS_PREFIX.length));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export const rootLinkName = (subnet: number) => `${ROOT_LINK_PREFIX}${subnet}`;
export const bridgeName = (subnet: number) => `${BRIDGE_PREFIX}${subnet}`;

/** The /24 of subnet k, as its first three octets. */
export function subnetPrefix(subnet: number): string {
  if (!Number.isInteger(subnet) || subnet < 0 || subnet >= SUBNETS) throw new Error(`netns: subnet ${subnet} outside 0–${SUBNETS - 1}`);
  return `198.${18 + (subnet >> 8)}.${subnet & 255}`;
}

export function hostAddress(subnet: number, host: number): string {
  if (!Number.isInteger(host) || host < 1 || host > 254) throw new Error(`netns: host number ${host} outside 1–254`);
  return `${subnetPrefix(subnet)}.${host}`;
}

/** True for addresses of 198.18.0.0/15: the only ones these tests may send to (besides loopback). */
export function isTestAddress(address: string): boolean {
  const m = /^198\.(18|19)\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  return m !== null && Number(m[2]) <= 255 && Number(m[3]) <= 255;
}

/** The order in which a run tries subnets: from pid mod 512 on, so concurrent runs rarely collide. */
export function subnetCandidates(pid: number): number[] {
  const start = pid % SUBNETS;
  return Array.from({ length: SUBNETS }, (_, i) => (start + i) % SUBNETS);
}

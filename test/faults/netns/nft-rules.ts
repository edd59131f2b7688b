import { NFT_TABLE } from './names.js';

/*
 * The nftables rules of one namespace, as text for `nft -f -`. A partition is a set of peer
 * addresses this namespace drops in both directions (input by source, output by destination); heal
 * flushes the set. The rules sit in their own inet table so they can never touch anything else, and
 * they match every packet, established connections included: a partition stalls open TCP streams
 * (etcd keepalives, gRPC) the way a real one does, instead of letting them through conntrack.
 */

export const BLOCKED_SET = 'blocked';

export function tableRuleset(): string {
  return [
    `table inet ${NFT_TABLE} {`,
    `  set ${BLOCKED_SET} { type ipv4_addr; }`,
    '  chain input { type filter hook input priority -10; policy accept;',
    `    ip saddr @${BLOCKED_SET} drop`,
    '  }',
    '  chain output { type filter hook output priority -10; policy accept;',
    `    ip daddr @${BLOCKED_SET} drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function blockRuleset(addresses: readonly string[]): string {
  if (addresses.length === 0) throw new Error('netns: nothing to block');
  for (const a of addresses) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new Error(`netns: "${a}" is not an IPv4 address`);
  return `add element inet ${NFT_TABLE} ${BLOCKED_SET} { ${addresses.join(', ')} }\n`;
}

export const healRuleset = () => `flush set inet ${NFT_TABLE} ${BLOCKED_SET}\n`;
export const deleteTableRuleset = () => `delete table inet ${NFT_TABLE}\n`;

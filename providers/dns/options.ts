import { z } from 'zod';
import { HostPortString, intRange, NonEmptyString, PositiveMillis } from '../../src/config/fields.js';

export const method = 'dns';
export const aliases = ['pekko-dns', 'akka-dns'] as const;

export const DnsOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  /** Name to look up [the service name]. Use the fully qualified name: search domains are not applied. */
  name: NonEmptyString.optional(),
  /** [A; SRV when portName and protocol are set] */
  recordType: z.enum(['A', 'AAAA', 'SRV']).optional(),
  /** SRV service label: `_<portName>._<protocol>.<name>`. */
  portName: NonEmptyString.optional(),
  protocol: z.enum(['tcp', 'udp']).optional(),
  /** `IP[:port]` list, asked in order; the system resolver's servers (/etc/resolv.conf) when empty. */
  nameservers: z.array(HostPortString).default([]),
  /** How long one query waits for one server's answer. */
  timeoutMs: PositiveMillis.default(2000),
  /** Rounds over all nameservers before a lookup fails (resolv.conf `attempts`). */
  tries: intRange(1, 10).default(2),
  /** Answers are reused for their TTL, but never longer than this (0 disables caching). */
  maxCacheTtlMs: intRange(0, 3_600_000).default(30_000),
});
export type DnsOptions = z.output<typeof DnsOptions>;

import { z } from 'zod';
import { intRange, IpPortString, NonEmptyString, PositiveMillis } from '../../src/config/fields.js';

export const method = 'dns';
export const aliases = ['pekko-dns', 'akka-dns'] as const;

export const DnsOptions = z
  .strictObject({
    method: z.enum([method, ...aliases]),
    /** Name to look up [the service name]; a trailing "." makes it absolute (no search domains). */
    name: NonEmptyString.optional(),
    /** [A; SRV when portName and protocol are set] */
    recordType: z.enum(['A', 'AAAA', 'SRV']).optional(),
    /** SRV service label: `_<portName>._<protocol>.<name>`. */
    portName: NonEmptyString.optional(),
    protocol: z.enum(['tcp', 'udp']).optional(),
    /** `IP[:port]` list, asked in order; the system resolver's servers (/etc/resolv.conf) when empty. */
    nameservers: z.array(IpPortString).default([]),
    /**
     * Search domains for names that are not fully qualified (resolv.conf `search`). Default: the system
     * resolver's (with its `ndots`) when `nameservers` is empty; none with explicit nameservers.
     */
    searchDomains: z.array(NonEmptyString).optional(),
    /** A name with at least this many dots is tried as is before the search domains [resolv.conf's, else 1]. */
    ndots: intRange(0, 15).optional(),
    /** How long one query waits for one server's answer. */
    timeoutMs: PositiveMillis.default(2000),
    /** Rounds over all nameservers before a lookup fails (resolv.conf `attempts`). */
    tries: intRange(1, 10).default(2),
    /** Answers are reused for their TTL, but never longer than this (0 disables caching). */
    maxCacheTtlMs: intRange(0, 3_600_000).default(30_000),
  })
  .superRefine((o, ctx) => {
    // One without the other would be ignored (the SRV name needs both): a typo must not fall back to A.
    if ((o.portName === undefined) !== (o.protocol === undefined)) {
      const [missing, given] = o.portName === undefined ? ['portName', 'protocol'] : ['protocol', 'portName'];
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: `required with ${given} (the SRV name is _<portName>._<protocol>.<name>)`,
        params: { hint: 'e.g. "portName": "management", "protocol": "tcp"; or neither, for A/AAAA records' },
      });
    }
  });
export type DnsOptions = z.output<typeof DnsOptions>;

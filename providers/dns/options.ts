import { z } from 'zod';
import { HostPortString, NonEmptyString, PositiveMillis } from '../../src/config/fields.js';

export const method = 'dns';
export const aliases = ['pekko-dns', 'akka-dns'] as const;

export const DnsOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  /** Name to look up [the service name]. */
  name: NonEmptyString.optional(),
  /** [A; SRV when portName and protocol are set] */
  recordType: z.enum(['A', 'AAAA', 'SRV']).optional(),
  /** SRV service label: `_<portName>._<protocol>.<name>`. */
  portName: NonEmptyString.optional(),
  protocol: z.enum(['tcp', 'udp']).optional(),
  /** `host[:port]` list; the system resolver when empty. */
  nameservers: z.array(HostPortString).default([]),
  /** Per-query timeout. */
  timeoutMs: PositiveMillis.default(2000),
});
export type DnsOptions = z.output<typeof DnsOptions>;

import { z } from 'zod';
import { Bool, intRange, NonEmptyString, Port } from '../../src/config/fields.js';

export const method = 'consul';
export const aliases = ['pekko-consul', 'akka-consul'] as const;

export const ConsulOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  /** [CONSUL_HTTP_ADDR, else 127.0.0.1] */
  host: NonEmptyString.optional(),
  /** [CONSUL_HTTP_ADDR, else 8500] */
  port: Port.optional(),
  secure: Bool.default(false),
  /** ACL token [CONSUL_HTTP_TOKEN]; never logged. */
  token: NonEmptyString.optional(),
  datacenter: NonEmptyString.optional(),
  keyPrefix: NonEmptyString.default('clusterseed'),
  /** Consul's minimum session TTL is 10 s. */
  sessionTtlSeconds: intRange(10, 86_400, ' s').default(10),
  lockDelaySeconds: intRange(0, 60, ' s').default(1),
  /** Instances must carry every one of these tags. */
  tags: z.array(NonEmptyString).default([]),
  passingOnly: Bool.default(true),
  /** Tag prefix whose remainder is the port, e.g. "management-port:". */
  portFromTag: NonEmptyString.optional(),
  /** Register this node when used for plain `resolve` (bootstrap always registers). */
  register: Bool.default(false),
});
export type ConsulOptions = z.output<typeof ConsulOptions>;

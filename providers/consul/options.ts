import { isIP } from 'node:net';
import { z } from 'zod';
import { Bool, intRange, NonEmptyString, Port, ReadableFile } from '../../src/config/fields.js';

export const method = 'consul';
export const aliases = ['pekko-consul', 'akka-consul'] as const;

export const ConsulOptions = z
  .strictObject({
    method: z.enum([method, ...aliases]),
    /** [CONSUL_HTTP_ADDR, else 127.0.0.1] */
    host: NonEmptyString.optional(),
    /** [CONSUL_HTTP_ADDR, else 8500] */
    port: Port.optional(),
    /** HTTPS to the agent [CONSUL_HTTP_SSL, an https:// CONSUL_HTTP_ADDR, or any TLS option below]. */
    secure: Bool.default(false),
    /** PEM CA bundle the agent's certificate must chain to [CONSUL_CACERT, else the system CAs]. */
    caFile: ReadableFile.optional(),
    /** Client certificate and its key, for agents that require one (verify_incoming) [CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY]. */
    certFile: ReadableFile.optional(),
    keyFile: ReadableFile.optional(),
    /** The name the agent's certificate must carry, when dialling it by another name or an IP [CONSUL_TLS_SERVER_NAME]. */
    tlsServerName: NonEmptyString.refine((v) => isIP(v) === 0, {
      error: 'expected a DNS name (an agent dialled by IP is verified against the IP addresses in its certificate)',
    }).optional(),
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
  })
  .superRefine((o, ctx) => {
    // A client certificate without its key (or the reverse) cannot be presented.
    if ((o.certFile === undefined) !== (o.keyFile === undefined)) {
      const [missing, given] = o.certFile === undefined ? ['certFile', 'keyFile'] : ['keyFile', 'certFile'];
      ctx.addIssue({ code: 'custom', path: [missing], message: `required with ${given} (a client certificate needs its key)` });
    }
  });
export type ConsulOptions = z.output<typeof ConsulOptions>;

import { z } from 'zod';
import { intRange, NonEmptyString } from '../../src/config/fields.js';

export const method = 'zookeeper';
export const aliases = [] as const;

export const ZookeeperOptions = z.strictObject({
  method: z.enum([method]),
  /** `host1:2181,host2:2181[/chroot]` */
  connectionString: NonEmptyString,
  rootPath: z
    .string()
    .regex(/^\/(?:[^/]+(?:\/[^/]+)*)?$/, { error: 'expected an absolute znode path such as "/clusterseed"' })
    .default('/clusterseed'),
  sessionTimeoutMs: intRange(2000, 600_000, ' ms').default(10_000),
  /** Digest credentials (`addauth digest username:password`); znodes are then created with CREATOR_ALL_ACL. */
  username: NonEmptyString.optional(),
  /** Never logged. */
  password: NonEmptyString.optional(),
}).superRefine((o, ctx) => {
  if ((o.username === undefined) !== (o.password === undefined)) {
    ctx.addIssue({ code: 'custom', path: [o.username === undefined ? 'username' : 'password'], message: 'give both username and password (digest auth), or neither' });
  }
});
export type ZookeeperOptions = z.output<typeof ZookeeperOptions>;

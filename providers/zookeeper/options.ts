import { z } from 'zod';
import { parseHostPort } from '../../src/address.js';
import { intRange, NonEmptyString } from '../../src/config/fields.js';

/**
 * What node-zookeeper-client's parser would throw on (an AssertionError at create()), refused here:
 * at least one `host[:port]`, ports 1-65535, and a chroot without empty segments.
 */
export function connectionStringProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  const servers = (slash < 0 ? text : text.slice(0, slash))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (servers.length === 0) return `${JSON.stringify(text)} names no server: expected "host1:2181,host2:2181[/chroot]"`;
  for (const server of servers) {
    try {
      parseHostPort(server);
    } catch (err) {
      return `invalid server ${(err as Error).message}`;
    }
  }
  // A lone trailing "/" is no chroot; any other chroot is a znode path (the client's Path.validate).
  const chroot = slash < 0 || slash === text.length - 1 ? '' : text.slice(slash);
  const bad = chroot
    .split('/')
    .slice(1)
    .find((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad !== undefined)
    return `chroot ${JSON.stringify(chroot)} is not a znode path (${bad === '' ? 'an empty segment or a trailing "/"' : `a relative segment "${bad}"`})`;
  return undefined;
}

export const method = 'zookeeper';
export const aliases = [] as const;

export const ZookeeperOptions = z
  .strictObject({
    method: z.enum([method]),
    /** `host1:2181,host2:2181[/chroot]` */
    connectionString: NonEmptyString.superRefine((text, ctx) => {
      const problem = connectionStringProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { hint: 'e.g. "10.0.0.5:2181,10.0.0.6:2181" or "zk-1:2181/apps"' } });
    }),
    rootPath: z
      .string()
      .regex(/^\/(?:[^/]+(?:\/[^/]+)*)?$/, { error: 'expected an absolute znode path such as "/clusterseed"' })
      .default('/clusterseed'),
    sessionTimeoutMs: intRange(2000, 600_000, ' ms').default(10_000),
    /** Digest credentials (`addauth digest username:password`); znodes are then created with CREATOR_ALL_ACL. */
    username: NonEmptyString.optional(),
    /** Never logged. */
    password: NonEmptyString.optional(),
  })
  .superRefine((o, ctx) => {
    if ((o.username === undefined) !== (o.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [o.username === undefined ? 'username' : 'password'],
        message: 'give both username and password (digest auth), or neither',
      });
    }
  });
export type ZookeeperOptions = z.output<typeof ZookeeperOptions>;

import { z } from 'zod';
import { intRange, NonEmptyString } from '../../src/config/fields.js';

export const method = 'etcd';
export const aliases = [] as const;

export const EtcdOptions = z.strictObject({
  method: z.enum([method]),
  /** `http://127.0.0.1:2379` or `127.0.0.1:2379` */
  endpoints: z.array(NonEmptyString).min(1, { error: 'expected at least one etcd endpoint, e.g. ["http://127.0.0.1:2379"]' }),
  prefix: NonEmptyString.default('clusterseed/'),
  leaseTtlSeconds: intRange(2, 3600, ' s').default(5),
  username: NonEmptyString.optional(),
  /** Never logged. */
  password: NonEmptyString.optional(),
});
export type EtcdOptions = z.output<typeof EtcdOptions>;

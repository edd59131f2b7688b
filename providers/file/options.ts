import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { intRange, NonEmptyString } from '../../src/config/fields.js';

export const method = 'file';
export const aliases = [] as const;

export const FileOptions = z.strictObject({
  method: z.enum([method]),
  /** Shared directory; one sub-directory per service, one file per registered node. */
  directory: NonEmptyString.default(() => path.join(os.tmpdir(), 'clusterseed')),
  /** Entries older than this are stale and ignored; owners refresh at a third of it. */
  ttlMs: intRange(1000, 86_400_000, ' ms').default(15_000),
});
export type FileOptions = z.output<typeof FileOptions>;

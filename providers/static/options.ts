import { z } from 'zod';
import { HostPortString } from '../../src/config/fields.js';

export const method = 'static';
export const aliases = ['config'] as const;

export const StaticOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  /** `["10.0.0.1:7626", "host-b"]` */
  contactPoints: z.array(HostPortString).default([]),
});
export type StaticOptions = z.output<typeof StaticOptions>;

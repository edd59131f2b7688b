import { z } from 'zod';
import { NonEmptyString, Port, Url } from '../../src/config/fields.js';
// A pure parser (no SDK): validating the string here is what makes `config check` reject it.
import { FILTER_STRING_HINT, parseFilterEntries } from './filters.js';

export const method = 'aws-ec2-tags';
export const aliases = ['aws-api-ec2-tag-based'] as const;

export const Ec2Filter = z.strictObject({ name: NonEmptyString, values: z.array(z.string()).min(1) });

/** The Pekko filter string, parsed as a lookup parses it. */
const FilterString = z.string().superRefine((text, ctx) => {
  const parsed = parseFilterEntries(text);
  if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem, params: { hint: FILTER_STRING_HINT } });
});

export const Ec2TagsOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  tagKey: NonEmptyString.default('service'),
  /** [the service name] */
  tagValue: NonEmptyString.optional(),
  /** Pekko string `"instance-type=m5.large;tag:env=prod"` or `[{ name, values }]`. */
  filters: z.union([FilterString, z.array(Ec2Filter)]).optional(),
  /** One contact point per (address, port); none → contact points without a port. */
  ports: z.array(Port).default([]),
  addressType: z.enum(['private-ipv4', 'public-ipv4', 'ipv6']).default('private-ipv4'),
  region: NonEmptyString.optional(),
  endpoint: Url.optional(),
});
export type Ec2TagsOptions = z.output<typeof Ec2TagsOptions>;

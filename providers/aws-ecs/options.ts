import { z } from 'zod';
import { KeyValue, NonEmptyString } from '../../src/config/fields.js';
import { EcsNetworkOptions } from './network.js';

export const method = 'aws-ecs';
export const aliases = ['aws-api-ecs', 'aws-api-ecs-async'] as const;

export const EcsOptions = z.strictObject({
  method: z.enum([method, ...aliases]),
  cluster: NonEmptyString.default('default'),
  /** [the service name] */
  serviceName: NonEmptyString.optional(),
  /** Tasks must carry every one of these tags. */
  tags: z.array(KeyValue).default([]),
  ...EcsNetworkOptions,
});
export type EcsOptions = z.output<typeof EcsOptions>;

import { z } from 'zod';
import { NonEmptyString } from '../../src/config/fields.js';
import { EcsNetworkOptions } from '../aws-ecs/network.js';
import { requireBridgeContainerPort } from '../aws-ecs/options.js';

export const method = 'aws-ecs-task-set';
export const aliases = ['aws-api-ecs-task-set-async'] as const;

export const EcsTaskSetOptions = z
  .strictObject({
    method: z.enum([method, ...aliases]),
    /** [the cluster of this task, from the task metadata endpoint] */
    cluster: NonEmptyString.optional(),
    ...EcsNetworkOptions,
  })
  .superRefine(requireBridgeContainerPort);
export type EcsTaskSetOptions = z.output<typeof EcsTaskSetOptions>;

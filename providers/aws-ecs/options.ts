import { z } from 'zod';
import { KeyValue, NonEmptyString } from '../../src/config/fields.js';
import { EcsNetworkOptions } from './network.js';

export const method = 'aws-ecs';
export const aliases = ['aws-api-ecs', 'aws-api-ecs-async'] as const;

/**
 * Bridge networking assigns host ports per task: without containerPort there is nothing to report.
 * Shared by aws-ecs and aws-ecs-task-set (create() keeps the same check as a defence).
 */
export function requireBridgeContainerPort(options: { networkMode: string; containerPort?: number | undefined }, ctx: z.RefinementCtx): void {
  if (options.networkMode === 'bridge' && options.containerPort === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['containerPort'],
      message: 'required with networkMode "bridge" (which container port\'s host port to report)',
      params: { hint: 'set containerPort to the port your management endpoint listens on inside the container, e.g. containerPort=7626' },
    });
  }
}

export const EcsOptions = z
  .strictObject({
    method: z.enum([method, ...aliases]),
    cluster: NonEmptyString.default('default'),
    /** [the service name] */
    serviceName: NonEmptyString.optional(),
    /** Tasks must carry every one of these tags. */
    tags: z.array(KeyValue).default([]),
    ...EcsNetworkOptions,
  })
  .superRefine(requireBridgeContainerPort);
export type EcsOptions = z.output<typeof EcsOptions>;

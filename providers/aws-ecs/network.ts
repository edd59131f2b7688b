import { z } from 'zod';
import { NonEmptyString, Port, Url } from '../../src/config/fields.js';

/** Options shared by `aws-ecs` and `aws-ecs-task-set`: how a task's address is read. */
export const EcsNetworkOptions = {
  networkMode: z.enum(['auto', 'awsvpc', 'bridge', 'host']).default('auto'),
  /** bridge/host: the container whose port mapping is reported (sidecars are ignored). */
  containerName: NonEmptyString.optional(),
  /** bridge/host: the container port whose host port is reported. */
  containerPort: Port.optional(),
  region: NonEmptyString.optional(),
  endpoint: Url.optional(),
};

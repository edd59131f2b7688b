import { ConfigError, ProtocolError } from '../../src/errors.js';
import { fetchTaskMetadata } from '../../src/self-address/ecs-metadata.js';
import type { ContactPoint, Lookup, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import type { ApiCallCounter } from '../aws-common/index.js';
import { checkNetworkOptions } from '../aws-ecs/index.js';
import { EcsApiProvider } from '../aws-ecs/provider-base.js';
import { aliases, method, EcsTaskSetOptions } from './options.js';

interface OwnTaskSet {
  cluster: string;
  taskArn: string;
  startedBy: string;
}

/**
 * `aws-ecs-task-set` (CodeDeploy blue/green): this task's ARN and cluster from the ECS task metadata
 * endpoint v4, its task set from DescribeTasks (`startedBy`), then every task started by that task
 * set. The own task set never changes during the life of the task, so it is looked up once.
 * API calls: the first resolve 1 DescribeTasks more than aws-ecs (plus one metadata GET).
 */
export class EcsTaskSetProvider extends EcsApiProvider<EcsTaskSetOptions> {
  readonly method = method;
  #own: OwnTaskSet | undefined;

  resolve(_lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const signal = options.signal ?? this.context.signal;
    return this.api.track(async (counter) => {
      const own = await this.#ownTaskSet(signal, counter);
      return this.api.discover({ cluster: own.cluster, startedBy: own.startedBy }, [], signal, counter);
    });
  }

  async #ownTaskSet(signal: AbortSignal | undefined, counter: ApiCallCounter): Promise<OwnTaskSet> {
    if (this.#own) return this.#own;
    const metadata = await fetchTaskMetadata({ env: this.context.env, ...(signal ? { signal } : {}) });
    const cluster = this.options.cluster ?? metadata.Cluster;
    const task = await this.api.describeTask(cluster, metadata.TaskARN, signal, counter);
    if (!task) {
      throw new ProtocolError(`DescribeTasks did not return this task (${metadata.TaskARN}) in cluster "${cluster}"`, {
        hint: 'the task metadata and the ECS API disagree; check discovery.cluster and the region',
      });
    }
    if (!task.startedBy) {
      throw new ConfigError(`discovery.method: this task (${metadata.TaskARN}) has no startedBy, so it belongs to no task set`, {
        hint: 'aws-ecs-task-set needs a task started by an ECS service (CodeDeploy task set); for standalone tasks use aws-ecs or static',
      });
    }
    this.#own = { cluster, taskArn: metadata.TaskARN, startedBy: task.startedBy };
    this.context.logger.debug(this.#own, 'aws-ecs-task-set: own task set');
    return this.#own;
  }
}

export const definition: ProviderDefinition<EcsTaskSetOptions> = {
  method,
  aliases,
  options: EcsTaskSetOptions,
  create(options, context) {
    checkNetworkOptions(options);
    return new EcsTaskSetProvider(options, context);
  },
};

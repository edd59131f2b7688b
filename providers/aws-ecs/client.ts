import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTasksCommand, ECSClient, type Task } from '@aws-sdk/client-ecs';
import { ApiCallCounter, awsCall, awsClientConfig, resolveEndpoint } from '../aws-common/index.js';
import { DiscoveryError } from '../../src/errors.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';
import { discoverTasks, type CallAws, type HostInfo, type TaskQuery } from './discover.js';
import type { AddressOptions, NetworkMode } from './tasks.js';

/*
 * What aws-ecs and aws-ecs-task-set share: the SDK clients (built from the options and the injected
 * environment), the call wrapper (typed errors, throttling back-off, per-attempt timeout, counting)
 * and the container-instance → host cache.
 */

export interface EcsClientOptions {
  networkMode: NetworkMode;
  containerName?: string | undefined;
  containerPort?: number | undefined;
  region?: string | undefined;
  endpoint?: string | undefined;
}

/** ECS error codes that mean "the options name something that does not exist": never retried. */
function ecsSpecificError(err: unknown, query: { cluster?: string | undefined; serviceName?: string | undefined }): DiscoveryError | undefined {
  const name = (err as { name?: string } | undefined)?.name;
  if (name === 'ClusterNotFoundException') {
    return new DiscoveryError(`ECS cluster "${query.cluster}" not found`, {
      cause: err,
      retriable: false,
      hint: 'check discovery.cluster (name or ARN) and the region (discovery.region / AWS_REGION)',
    });
  }
  if (name === 'ServiceNotFoundException') {
    return new DiscoveryError(`ECS service "${query.serviceName}" not found in cluster "${query.cluster}"`, {
      cause: err,
      retriable: false,
      hint: 'discovery.serviceName defaults to the service name (--service / CLUSTERSEED_SERVICE); set it to the ECS service name',
    });
  }
  return undefined;
}

/**
 * Drops the SDK's logger middleware. Its default logger is a no-op, yet the middleware still builds
 * the redacted copy of every output it would log (a walk over the schema of each of the 100 tasks of
 * a DescribeTasks answer): about a quarter of the client's CPU per call, which bounds how fast
 * pipelined batches can go. Errors and retries are logged by awsCall, not by the SDK.
 */
function withoutSdkLogging<C extends { middlewareStack: { remove(name: string): boolean } }>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

export class EcsApi {
  readonly ecs: ECSClient;
  #ec2: EC2Client | undefined;
  readonly #options: EcsClientOptions;
  readonly #context: ProviderContext;
  readonly #ecsEndpoint: string | undefined;
  /** Every API call (attempts included) since the provider was created. */
  readonly counter = new ApiCallCounter();
  /** API calls of the last resolve (attempts included), as documented in docs/providers/aws-ecs.md. */
  lastResolveCalls: Record<string, number> = {};
  readonly hostCache = new Map<string, HostInfo>();

  constructor(options: EcsClientOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    const connection = { region: options.region, endpoint: options.endpoint };
    this.#ecsEndpoint = resolveEndpoint('ecs', connection, context.env);
    this.ecs = withoutSdkLogging(new ECSClient(awsClientConfig('ecs', connection, context.env)));
  }

  /** The EC2 client, created only when a bridge/host task needs its host's IP. */
  ec2(): EC2Client {
    // `endpoint` is the ECS endpoint; EC2 follows AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL.
    this.#ec2 ??= withoutSdkLogging(new EC2Client(awsClientConfig('ec2', { region: this.#options.region }, this.#context.env)));
    return this.#ec2;
  }

  /** A CallAws bound to one resolve's signal and query. */
  caller(
    signal: AbortSignal | undefined,
    query: { cluster?: string | undefined; serviceName?: string | undefined },
    counter: ApiCallCounter = this.counter,
  ): CallAws {
    return (service, action, send) =>
      awsCall(
        async (abortSignal) => {
          try {
            return await send(abortSignal);
          } catch (err) {
            throw (abortSignal.aborted ? undefined : ecsSpecificError(err, query)) ?? err;
          }
        },
        {
          iamAction: `${service}:${action}`,
          signal,
          counter,
          clock: this.#context.clock,
          logger: this.#context.logger,
          endpoint: service === 'ecs' ? this.#ecsEndpoint : undefined,
        },
      );
  }

  addressOptions(tags: AddressOptions['tags']): AddressOptions {
    return { networkMode: this.#options.networkMode, containerName: this.#options.containerName, containerPort: this.#options.containerPort, tags };
  }

  /** Runs one resolve, recording its API calls in `lastResolveCalls` (and the running total). */
  async track<T>(fn: (counter: ApiCallCounter) => Promise<T>): Promise<T> {
    const calls = new CountingInto(this.counter);
    try {
      return await fn(calls);
    } finally {
      this.lastResolveCalls = calls.snapshot();
      this.#context.logger.debug({ apiCalls: this.lastResolveCalls }, 'ECS discovery API calls');
    }
  }

  /** Every RUNNING task of the query with an address, as contact points. */
  discover(query: TaskQuery, tags: AddressOptions['tags'], signal: AbortSignal | undefined, counter: ApiCallCounter): Promise<ContactPoint[]> {
    return discoverTasks(query, this.addressOptions(tags), {
      ecs: this.ecs,
      ec2: () => this.ec2(),
      call: this.caller(signal, query, counter),
      logger: this.#context.logger,
      hostCache: this.hostCache,
    });
  }

  /** DescribeTasks of one task (task-set discovery: the own task's startedBy). */
  async describeTask(cluster: string, taskArn: string, signal: AbortSignal | undefined, counter: ApiCallCounter): Promise<Task | undefined> {
    const out = await this.caller(signal, { cluster }, counter)('ecs', 'DescribeTasks', (abortSignal) =>
      this.ecs.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }), { abortSignal }),
    );
    return out.tasks?.find((t) => t.taskArn === taskArn);
  }

  close(): void {
    this.ecs.destroy();
    this.#ec2?.destroy();
  }
}

/** Counts one resolve's calls and adds them to the provider's running total. */
class CountingInto extends ApiCallCounter {
  readonly #total: ApiCallCounter;
  constructor(total: ApiCallCounter) {
    super();
    this.#total = total;
  }
  override add(action: string): void {
    super.add(action);
    this.#total.add(action);
  }
}

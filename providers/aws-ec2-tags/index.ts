import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { Clock } from '../../src/clock.js';
import { ProtocolError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint, DiscoveryProvider, Lookup, ProviderContext, ProviderDefinition, ResolveOptions } from '../../src/types.js';
import { ApiCallCounter, awsCall, awsClientConfig } from '../aws-common/index.js';
import { buildFilters, type Ec2ApiFilter } from './filters.js';
import { contactPointsOf } from './instances.js';
import { aliases, method, Ec2TagsOptions } from './options.js';

/** The largest page DescribeInstances allows: API calls per resolve = max(1, ⌈matching instances / 1000⌉) + retries. */
export const PAGE_SIZE = 1000;

/**
 * EC2 instances by tag (Pekko's aws-api-ec2-tag-based): running instances tagged
 * `<tagKey>=<tagValue or service>` plus extra filters, every page followed.
 */
export class Ec2TagsProvider implements DiscoveryProvider {
  readonly method = method;
  /** AWS API calls made by this provider (every attempt counted), for logs, tests and the bench. */
  readonly apiCalls = new ApiCallCounter();
  readonly #options: Ec2TagsOptions;
  readonly #client: EC2Client;
  readonly #endpoint: string | undefined;
  readonly #logger: Logger;
  readonly #clock: Clock;

  constructor(options: Ec2TagsOptions, context: Pick<ProviderContext, 'env' | 'logger' | 'clock'>) {
    this.#options = options;
    // Validates the filter string now, so a typo is a config error at startup, not at the first lookup.
    buildFilters(options, 'validation');
    const config = awsClientConfig('ec2', options, context.env);
    this.#endpoint = config.endpoint;
    this.#client = new EC2Client(config);
    this.#logger = context.logger;
    this.#clock = context.clock;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const filters: Ec2ApiFilter[] = buildFilters(this.#options, lookup.service);
    const points: ContactPoint[] = [];
    const seenTokens = new Set<string>();
    const callsBefore = this.apiCalls.total;
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const input = { Filters: filters, MaxResults: PAGE_SIZE, ...(nextToken ? { NextToken: nextToken } : {}) };
      const page = await awsCall((abortSignal) => this.#client.send(new DescribeInstancesCommand(input), { abortSignal }), {
        iamAction: 'ec2:DescribeInstances',
        signal: options.signal,
        counter: this.apiCalls,
        clock: this.#clock,
        logger: this.#logger,
        endpoint: this.#endpoint,
      });
      pages += 1;
      const mapped = contactPointsOf(page.Reservations, this.#options);
      points.push(...mapped.points);
      if (mapped.withoutAddress.length > 0) {
        this.#logger.debug(
          { addressType: this.#options.addressType, instances: mapped.withoutAddress.slice(0, 20), count: mapped.withoutAddress.length },
          'running instances without an address of the configured type were skipped',
        );
      }
      nextToken = page.NextToken || undefined;
      if (nextToken !== undefined) {
        // A token seen before would loop forever: the endpoint is broken, say so.
        if (seenTokens.has(nextToken))
          throw new ProtocolError('DescribeInstances: nextToken repeats an earlier page', { hint: 'check the endpoint setting (AWS_ENDPOINT_URL_EC2)' });
        seenTokens.add(nextToken);
      }
    } while (nextToken !== undefined);
    this.#logger.debug({ service: lookup.service, pages, apiCalls: this.apiCalls.total - callsBefore, contactPoints: points.length }, 'aws-ec2-tags lookup');
    return points;
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }
}

export const definition: ProviderDefinition<Ec2TagsOptions> = {
  method,
  aliases,
  options: Ec2TagsOptions,
  create: (options, context) => new Ec2TagsProvider(options, context),
};

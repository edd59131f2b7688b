import { formatHostPort } from '../../src/address.js';
import { describeError } from '../../src/errors.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type { ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions } from '../../src/types.js';
import { createKubernetesClient, type KubernetesClient } from './client.js';
import { KubernetesLeaseLock } from './lease-lock.js';
import { KubernetesApiOptions, aliases, method } from './options.js';
import { listPods, podsToContactPoints } from './pods.js';
import { watchPods } from './watch.js';

/**
 * Kubernetes (DESIGN §3 `kubernetes-api`): the Running, non-deleting pods that match the label
 * selector, from the API server with the pod's own service account; a watch on the same selector
 * makes bootstrap act on changes at once; the `lock` strategy keeps its lock and record in Leases
 * (lease-lock.ts). No client library: client.ts is a small HTTPS client of our own.
 */
export class KubernetesApiProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: KubernetesApiOptions;
  readonly #context: ProviderContext;
  readonly #client: KubernetesClient;
  #lock: KubernetesLeaseLock | undefined;
  /** The service of the last lookup or registration: the members pruning of the lock lists its pods. */
  #service: string | undefined;

  constructor(options: KubernetesApiOptions, context: ProviderContext, client: KubernetesClient) {
    this.#options = options;
    this.#context = context;
    this.#client = client;
  }

  /** ["app=<service>"], as Pekko's `pod-label-selector = "app=%s"`. */
  labelSelector(service: string): string {
    return this.#options.labelSelector ?? `app=${service}`;
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    this.#service = lookup.service;
    const { pods } = await listPods(this.#client, {
      namespace: this.#client.namespace,
      labelSelector: this.labelSelector(lookup.service),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    const { portName, containerName, readyOnly } = this.#options;
    return podsToContactPoints(pods, {
      readyOnly,
      logger: this.#context.logger,
      ...(portName !== undefined ? { portName } : {}),
      ...(containerName !== undefined ? { containerName } : {}),
    });
  }

  watch(lookup: Lookup, onChange: () => void, signal: AbortSignal): void {
    const { logger, clock } = this.#context;
    watchPods(this.#client, { namespace: this.#client.namespace, labelSelector: this.labelSelector(lookup.service), logger, clock }, onChange, signal).catch(
      (err: unknown) => logger.warn({ error: describeError(err) }, 'kubernetes-api: the pod watch stopped; lookups go on at the discovery interval'),
    );
  }

  /**
   * On Kubernetes the pod is its own registration (DESIGN §3): nothing is written. What can go wrong
   * is the address: a node advertising anything but its pod IP (and named port) is never found by its
   * peers, so that is said once, loudly, instead of leaving the cluster waiting.
   */
  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    this.#service = options.service;
    const { logger } = this.#context;
    try {
      const live = await this.resolve({ service: options.service }, options.signal ? { signal: options.signal } : {});
      const found = live.some((p) => p.host === self.host && (p.port === undefined || self.port === undefined || p.port === self.port));
      if (!found) {
        logger.warn(
          { self: formatHostPort(self), labelSelector: this.labelSelector(options.service), namespace: this.#client.namespace, pods: live.length },
          'kubernetes-api: no Running pod matching the selector has this address: peers will not find this node ' +
            '(advertise the pod IP with self.mode "kubernetes" and POD_IP, and name the management port as discovery.portName)',
        );
      }
    } catch (err) {
      logger.debug({ error: describeError(err) }, 'kubernetes-api: could not check the advertised address against the pods');
    }
    // Graceful close leaves the cluster record too (DESIGN §5.3.4); a killed pod's entry is pruned by
    // the next members write, once its pod is no longer Running.
    const leave = async () => {
      await this.#lock?.removeMember(self, { service: options.service, signal: AbortSignal.timeout(5000) }).catch((err: unknown) => {
        logger.warn({ error: describeError(err) }, 'kubernetes-api: could not remove this node from the members Lease; the next write prunes it');
      });
    };
    let closing: Promise<void> | undefined;
    return { self, close: () => (closing ??= leave()) };
  }

  seedLock(): SeedLock {
    this.#lock ??= new KubernetesLeaseLock(
      this.#client,
      { namespace: this.#client.namespace, leaseDurationSeconds: this.#options.leaseDurationSeconds },
      {
        clock: this.#context.clock,
        logger: this.#context.logger,
        livePods: (signal) => {
          const service = this.#service;
          if (service === undefined) return Promise.reject(new Error('no service looked up yet'));
          return this.resolve({ service }, signal ? { signal } : {});
        },
      },
    );
    return this.#lock;
  }

  /** Releases a held lock (the holder is cleared, so the next node need not wait for expiry), then the sockets. */
  async close(): Promise<void> {
    await this.#lock?.close();
    this.#client.close();
  }
}

export const definition: ProviderDefinition<KubernetesApiOptions> = {
  method,
  aliases,
  options: KubernetesApiOptions,
  create: async (options, context) => {
    const client = await createKubernetesClient(options, { env: context.env, clock: context.clock, logger: context.logger });
    return new KubernetesApiProvider(options, context, client);
  },
};

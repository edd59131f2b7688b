import { canonicalize, formatHostPort } from '../../src/address.js';
import { SharedRegistrations } from '../../src/lock/shared-registrations.js';
import type { LockCapableProvider, SeedLock } from '../../src/lock/seed-lock.js';
import type { ContactPoint, Lookup, ProviderContext, ProviderDefinition, RegisterOptions, Registration, ResolveOptions } from '../../src/types.js';
import { ConsulHttp, consulEndpoint, encodeSegment } from './client.js';
import { HealthEntries, toContactPoints } from './health.js';
import { ConsulSeedLock } from './lock.js';
import { ConsulOptions, aliases, method } from './options.js';
import { registerWithTtlCheck } from './registration.js';
import { ConsulSession } from './session.js';

/**
 * Consul: healthy instances from the agent's /v1/health/service/<service>, registration as an agent
 * service with a TTL check, and the SeedLock on a session + KV (see lock.ts). The ACL token goes in
 * the X-Consul-Token header only; it is never logged, put in an error or in `meta`.
 */
export class ConsulProvider implements LockCapableProvider {
  readonly method = method;
  readonly #options: ConsulOptions;
  readonly #context: ProviderContext;
  readonly #http: ConsulHttp;
  /** bootstrap() and the lock strategy both register the node: one registration, one TTL loop. */
  readonly #registrations = new SharedRegistrations();
  #session: ConsulSession | undefined;
  #lock: ConsulSeedLock | undefined;

  constructor(options: ConsulOptions, context: ProviderContext) {
    this.#options = options;
    this.#context = context;
    // Reads the TLS files (options or CONSUL_CACERT…) now: a bad one is a ConfigError before any connection.
    this.#http = new ConsulHttp(consulEndpoint(options, context.env));
    const verify = context.env.CONSUL_HTTP_SSL_VERIFY?.trim().toLowerCase();
    if (this.#http.endpoint.tls && (verify === 'false' || verify === '0' || verify === 'f')) {
      context.logger.warn(
        {},
        'consul: CONSUL_HTTP_SSL_VERIFY=false is ignored: clusterseed always verifies the agent certificate (set CONSUL_CACERT or caFile to its CA)',
      );
    }
  }

  async resolve(lookup: Lookup, options: ResolveOptions = {}): Promise<ContactPoint[]> {
    const path = `/v1/health/service/${encodeSegment(lookup.service)}`;
    const { value, response } = await this.#http.json(HealthEntries, 'GET', path, {
      query: { passing: this.#options.passingOnly, tag: this.#options.tags, dc: this.#options.datacenter },
      signal: options.signal,
      timeoutMs: options.timeoutMs,
    });
    const { logger } = this.#context;
    if (value.length === 0 && response.headers.get('x-consul-results-filtered-by-acls') === 'true') {
      logger.warn({ service: lookup.service }, 'consul: ACLs hid every instance; the token needs service:read and node:read (see docs/providers/consul.md)');
    }
    const opts = {
      tags: this.#options.tags,
      passingOnly: this.#options.passingOnly,
      onSkip: (serviceId: string, reason: string) => logger.debug({ serviceId, reason }, 'consul: skipping instance'),
      ...(this.#options.portFromTag === undefined ? {} : { portFromTag: this.#options.portFromTag }),
    };
    return canonicalize(toContactPoints(value, `consul GET ${path}`, opts));
  }

  /** A second registration of the same point (the lock strategy after bootstrap()) shares the first: no request. */
  async register(self: ContactPoint, options: RegisterOptions): Promise<Registration> {
    const settings = {
      service: options.service,
      self,
      tags: this.#options.tags,
      ttlSeconds: this.#options.sessionTtlSeconds,
      ...(this.#options.portFromTag === undefined ? {} : { portFromTag: this.#options.portFromTag }),
    };
    const key = `${options.service}\u0000${formatHostPort(self)}`;
    return this.#registrations.acquire(
      key,
      () =>
        registerWithTtlCheck(this.#http, settings, {
          clock: this.#context.clock,
          logger: this.#context.logger,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      options.signal,
    );
  }

  seedLock(): SeedLock {
    if (this.#lock) return this.#lock;
    const settings = {
      ttlSeconds: this.#options.sessionTtlSeconds,
      lockDelaySeconds: this.#options.lockDelaySeconds,
      keyPrefix: this.#options.keyPrefix,
    };
    const deps = { clock: this.#context.clock, logger: this.#context.logger };
    this.#session = new ConsulSession(this.#http, settings, deps);
    this.#lock = new ConsulSeedLock(this.#http, this.#session, settings, deps);
    return this.#lock;
  }

  /** Deregisters, removes this node's member entries, destroys the session (Consul deletes what it held). */
  async close(): Promise<void> {
    await this.#registrations.closeAll();
    await this.#lock?.close();
    await this.#session?.close();
    this.#http.close();
  }
}

export const definition: ProviderDefinition<ConsulOptions> = {
  method,
  aliases,
  options: ConsulOptions,
  create: (options, context) => new ConsulProvider(options, context),
};

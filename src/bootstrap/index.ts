import { formatHostPort, normalizeHost } from '../address.js';
import { retry } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import { parseConfig } from '../config/load.js';
import { partitionRisk, type Config, type ConfigInput } from '../config/schema.js';
import { channels, publish } from '../diagnostics.js';
import { ConfigError, describeError } from '../errors.js';
import { isLockCapable } from '../lock/seed-lock.js';
import { silentLogger, type Logger } from '../logger.js';
import { createDiscovery } from '../registry.js';
import { resolveSelfAddress } from '../self-address/index.js';
import { withDeadline } from '../signal.js';
import { isRegistryProvider, type ContactPoint, type DiscoveryProvider } from '../types.js';
import { describeConflict, type ClusterConflict } from './conflict.js';
import { Coordinator } from './coordinator.js';
import { startEndpoint, type ManagementEndpoint } from './endpoint.js';
import { createHttpProbeTransport } from './prober.js';
import { loadManagementTls } from './tls.js';
import { wirePoint, type SeedNodesResponse } from './protocol.js';
import type { BootstrapResult, StrategyContext, StrategyOutcome } from './strategy.js';

export interface BootstrapHooks {
  /** The application's own join (required): called once with the decided seeds. */
  join: (seeds: ContactPoint[]) => Promise<void>;
  /** The application's current members, reported to peers (optional). */
  members?: () => ContactPoint[] | Promise<ContactPoint[]>;
  /**
   * This node's cluster lost a cluster conflict (DESIGN §5.5): leave it and rejoin the survivor, or
   * exit so the orchestrator restarts the node. Called once, after bootstrap() resolved.
   */
  onConflict?: (conflict: ClusterConflict) => void | Promise<void>;
  logger?: Logger;
  signal?: AbortSignal;
  /** Process environment (CLUSTERSEED_MANAGEMENT_TOKEN, provider variables) [process.env]. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Time source of the coordinator [system clock]. */
  clock?: Clock;
}

/** The config object of DESIGN §3 plus the hooks. */
export type BootstrapOptions = ConfigInput & BootstrapHooks;

export interface BootstrapNode {
  readonly result: BootstrapResult;
  /** Where the management endpoint is bound. */
  readonly endpoint: { host: string; port: number };
  /** How the advertised address was found ('interface', 'ecs-awsvpc'…); undefined when configured explicitly. */
  readonly selfSource: string | undefined;
  /** Stops the endpoint, deregisters, releases leases; idempotent. */
  close(): Promise<void>;
}

const HOOK_KEYS = ['join', 'members', 'onConflict', 'logger', 'signal', 'env', 'clock'] as const;

/**
 * Discovers peers, agrees on the first seed, calls `join(seeds)`, and resolves once it has; the
 * returned node keeps serving its endpoint (late joiners find the cluster through it) until close().
 */
export async function bootstrap(options: BootstrapOptions): Promise<BootstrapNode> {
  if (typeof options?.join !== 'function') {
    throw new ConfigError('bootstrap: "join" must be a function (seeds) => Promise<void>', {
      hint: "pass your cluster layer's join, e.g. join: (seeds) => cluster.join(seeds)",
    });
  }
  const raw: Record<string, unknown> = { ...options };
  for (const k of HOOK_KEYS) delete raw[k];
  const env = options.env ?? process.env;
  const token = env.CLUSTERSEED_MANAGEMENT_TOKEN;
  if (token && (raw.management as { token?: unknown } | undefined)?.token === undefined) {
    raw.management = { ...(raw.management as object | undefined), token };
  }
  return startBootstrapNode(parseConfig(raw), options);
}

/** bootstrap() on an already validated config (the CLI loads its config itself). */
export async function startBootstrapNode(config: Config, hooks: BootstrapHooks): Promise<BootstrapNode> {
  const logger = hooks.logger ?? silentLogger;
  const clock = hooks.clock ?? systemClock;
  const env = hooks.env ?? process.env;
  const startedAt = clock.now();
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => logger.warn({ error: err }, 'close: cleanup step failed'));
  };
  const deadline = withDeadline('bootstrap', config.bootstrap.bootstrapTimeoutMs, hooks.signal);
  const risk = config.bootstrap.strategy === 'lowest-address' ? partitionRisk(config.bootstrap) : undefined;
  const onConflict = conflictReporter(logger, hooks.onConflict);
  try {
    // The PEM files are read and checked once, before anything connects or binds.
    const tls = config.management.tls && loadManagementTls(config.management.tls);
    const provider: DiscoveryProvider = await createDiscovery(config.discovery, {
      logger,
      env,
      signal: deadline.signal,
      timeoutMs: config.bootstrap.resolveTimeoutMs,
    });
    cleanups.push(() => provider.close());

    let report: () => Promise<SeedNodesResponse | undefined> | SeedNodesResponse | undefined = () => undefined;
    let changes: ((listener: () => void) => (() => void) | undefined) | undefined;
    const endpoint: ManagementEndpoint = await startEndpoint({
      host: config.management.host,
      port: config.management.port,
      token: config.management.token,
      tls,
      logger,
      report: () => report(),
      changes: (listener) => changes?.(listener),
      probeIntervalMs: config.bootstrap.probeIntervalMs,
    });
    cleanups.push(() => endpoint.close());

    const { self, source } = await advertisedSelf(config, endpoint.port, env, deadline.signal);
    // Logged once start-up can no longer fail for a configuration reason: a ConfigError (provider
    // settings from the environment, TLS files, binding, the own address) stays the only stderr line.
    if (risk) logger.warn({}, risk);
    logger.info(
      { self: formatHostPort(self), bound: `${endpoint.host}:${endpoint.port}`, strategy: config.bootstrap.strategy, method: provider.method },
      'bootstrapping',
    );
    report = () => ({ self: wirePoint(self), seedNodes: [], lowest: null, view: 0, members: 0 });

    if (isRegistryProvider(provider)) {
      // A registry electing a leader refuses writes for a few seconds: retry until the deadline.
      const registration = await retry(() => provider.register(self, { service: config.service, signal: deadline.signal }), {
        attempts: Number.POSITIVE_INFINITY,
        maxMs: config.bootstrap.discoveryMaxBackoffMs,
        signal: deadline.signal,
        clock,
        onRetry: (err, _attempt, delayMs) => logger.warn({ error: describeError(err), retryInMs: delayMs }, 'registering failed; retrying'),
      });
      cleanups.push(() => registration.close());
    }

    let outcome: { seeds: ContactPoint[]; formedNewCluster: boolean };
    let startWatch = () => {};
    if (config.bootstrap.strategy === 'lock') {
      if (!isLockCapable(provider)) {
        throw new ConfigError(`bootstrap.strategy: "lock" needs a lock-capable discovery method, and "${provider.method}" is not one`, {
          hint: 'use discovery method zookeeper, etcd, consul, kubernetes-api or file, or bootstrap.strategy "lowest-address"',
        });
      }
      const context: StrategyContext = { config, provider, self, join: hooks.join, logger, clock, signal: deadline.signal, startedAt, onConflict };
      const { runLockStrategy } = (await import('../lock/lock-strategy.js')) as { runLockStrategy: (c: StrategyContext) => Promise<StrategyOutcome> };
      const lock = await runLockStrategy(context);
      cleanups.push(() => lock.close());
      outcome = lock.result;
      startWatch = () => lock.watch?.();
      report = () => ({ self: wirePoint(self), seedNodes: lock.result.seeds.map(wirePoint), lowest: null, view: 0, members: lock.result.seeds.length });
    } else {
      const transport = createHttpProbeTransport({
        token: config.management.token,
        defaultPort: self.port!,
        tls,
        logger,
        probeIntervalMs: config.bootstrap.probeIntervalMs,
      });
      cleanups.push(() => transport.close());
      const coordinator = new Coordinator({
        self,
        settings: config.bootstrap,
        transport,
        join: hooks.join,
        members: hooks.members,
        clock,
        logger,
        onConflict,
        discover: (signal) => provider.resolve({ service: config.service }, { signal, timeoutMs: config.bootstrap.resolveTimeoutMs }),
      });
      cleanups.push(async () => coordinator.stop());
      report = () => coordinator.report();
      changes = (listener) => coordinator.onReportChange(listener);
      // Changes the provider sees as they happen make the coordinator look again at once.
      const watching = new AbortController();
      cleanups.push(async () => watching.abort());
      provider.watch?.({ service: config.service }, () => coordinator.rediscover(), watching.signal);
      outcome = await coordinator.run(hooks.signal).finally(() => watching.abort());
    }
    const result: BootstrapResult = {
      seeds: outcome.seeds,
      self,
      formedNewCluster: outcome.formedNewCluster,
      strategy: config.bootstrap.strategy,
      elapsedMs: clock.now() - startedAt,
    };
    publish(channels.decision, {
      strategy: result.strategy,
      self: formatHostPort(self),
      seeds: result.seeds.map(formatHostPort),
      formedNewCluster: result.formedNewCluster,
      elapsedMs: result.elapsedMs,
    });
    logger.info({ firstSeed: formatHostPort(result.seeds[0]!), formedNewCluster: result.formedNewCluster, elapsedMs: result.elapsedMs }, 'bootstrap decided');
    startWatch();
    let closing: Promise<void> | undefined;
    return {
      result,
      endpoint: { host: endpoint.host, port: endpoint.port },
      selfSource: source,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  } finally {
    deadline.dispose();
  }
}

/**
 * DESIGN §5.5.5: every conflict is published and logged; the losing side is loud (one error line)
 * and its application is told once, after bootstrap() resolved (a microtask later at the earliest).
 */
function conflictReporter(logger: Logger, hook: BootstrapHooks['onConflict']): (c: ClusterConflict) => void {
  let told = false;
  return (conflict) => {
    publish(channels.conflict, conflict);
    const fields = {
      ours: formatHostPort(conflict.ours.firstSeed),
      ourMembers: conflict.ours.members,
      theirs: formatHostPort(conflict.theirs.firstSeed),
      theirMembers: conflict.theirs.members,
      strategy: conflict.strategy,
    };
    if (!conflict.yielding) return logger.warn(fields, describeConflict(conflict));
    logger.error(fields, describeConflict(conflict));
    if (told || !hook) return;
    told = true;
    void Promise.resolve()
      .then(() => hook(conflict))
      .catch((err: unknown) => logger.error({ error: describeError(err) }, 'onConflict failed'));
  };
}

async function advertisedSelf(config: Config, boundPort: number, env: Readonly<Record<string, string | undefined>>, signal: AbortSignal) {
  const s = config.self;
  if (s.host !== undefined) return { self: { host: normalizeHost(s.host), port: s.port ?? boundPort } as ContactPoint, source: undefined };
  const resolved = await resolveSelfAddress({
    mode: s.mode ?? 'auto',
    env,
    signal,
    allowImdsV1: s.allowImdsV1,
    ...(s.interface !== undefined ? { interface: s.interface } : {}),
    ...(s.containerPort !== undefined ? { containerPort: s.containerPort } : {}),
  });
  return { self: { host: normalizeHost(resolved.host), port: s.port ?? resolved.port ?? boundPort } as ContactPoint, source: resolved.source };
}

import { formatHostPort } from '../address.js';
import { abortReason, backoffDelay, sleep } from '../backoff.js';
import type { BootstrapResult, StrategyContext, StrategyOutcome } from '../bootstrap/strategy.js';
import { channels, publish } from '../diagnostics.js';
import { ClusterseedError, ConfigError, TimeoutError } from '../errors.js';
import type { ContactPoint, Registration } from '../types.js';
import { decideFromRecord } from './decide.js';
import { isLockCapable, type LockCapableProvider, type SeedLockOptions } from './seed-lock.js';

/**
 * How long a waiting node trusts its watch before it re-reads anyway. A safety net only: changes
 * arrive through the registry's watch (ZooKeeper watch, etcd watch, Consul blocking query, fs.watch).
 */
export const WATCH_SAFETY_NET_MS = 5000;

/** Re-reads under one lock hold before giving the lock up (repairs converge in one or two). */
const MAX_STEPS_UNDER_LOCK = 3;

/** Marks errors of the application's join(): they end the strategy, never a retry. */
class JoinFailed extends Error {}

/** ConstructR-style first-seed election (DESIGN §5.3), with watches instead of fixed retry sleeps. */
export async function runLockStrategy(context: StrategyContext): Promise<StrategyOutcome> {
  const { provider, config, self, logger, signal } = context;
  if (!isLockCapable(provider)) {
    throw new ConfigError(`bootstrap.strategy "lock" needs a registry with a lock; discovery method "${provider.method}" has none`, {
      hint: 'use discovery method zookeeper, etcd, consul or file, or bootstrap.strategy "lowest-address"',
    });
  }
  // bootstrap() registers too; providers make a second registration of the same point a no-op, and
  // this one keeps the strategy usable (and testable) on its own.
  const registration = await provider.register(self, { service: config.service, signal });
  logger.info({ self: formatHostPort(self), method: provider.method }, 'lock: registered');
  const progress: Progress = { waitingOn: 'reading the cluster record' };
  try {
    const result = await elect(context, provider, registration, progress);
    return { result, close: () => registration.close() };
  } catch (err) {
    await registration.close().catch(() => {});
    if (err instanceof JoinFailed) throw err.cause;
    // A bootstrap deadline says what the strategy was still waiting for.
    if (err instanceof TimeoutError && signal.aborted && signal.reason === err) {
      throw new TimeoutError(`${err.message} (lock strategy: ${progress.waitingOn})`, {
        cause: err,
        hint: progress.hint ?? 'check that the registry is reachable and that bootstrap.bootstrapTimeoutMs leaves time for a lock holder to finish',
      });
    }
    throw err;
  }
}

/** What the strategy is waiting for: published on clusterseed:decision and named in a timeout. */
interface Progress {
  waitingOn: string;
  hint?: string;
}

function waitingOn(progress: Progress, what: string, hint?: string): void {
  if (progress.waitingOn === what) return;
  progress.waitingOn = what;
  if (hint === undefined) delete progress.hint;
  else progress.hint = hint;
  publish(channels.decision, { strategy: 'lock', waitingOn: what });
}

async function elect(context: StrategyContext, provider: LockCapableProvider, registration: Registration, progress: Progress): Promise<BootstrapResult> {
  const { config, self, logger, clock, signal } = context;
  const lock = provider.seedLock();
  const options: SeedLockOptions = { service: config.service, signal };
  // The live registrations only matter when the record names someone (is the first seed / a member
  // still registered?): an empty record costs no lookup (on ZooKeeper a lookup is 1 + N requests).
  const read = async () => {
    const record = await lock.readRecord(options);
    if (!record.firstSeed && record.members.length === 0) return decideFromRecord(record, [], self);
    const live = await provider.resolve({ service: config.service }, { signal, timeoutMs: config.bootstrap.resolveTimeoutMs });
    return decideFromRecord(record, live, self);
  };
  const finish = async (seeds: ContactPoint[], formedNewCluster: boolean): Promise<BootstrapResult> => {
    try {
      await context.join(seeds);
    } catch (err) {
      throw new JoinFailed('join failed', { cause: err });
    }
    if (formedNewCluster) await persist('writing first-seed', () => lock.writeFirstSeed(self, options));
    await persist('adding self to members', () => lock.addMember(self, options));
    return { seeds, self: registration.self, formedNewCluster, strategy: 'lock', elapsedMs: clock.now() - context.startedAt };
  };
  // After a join, the record must be written: without first-seed, the next lock holder would form a
  // second cluster. Retry transient failures until the caller gives up.
  const persist = async (what: string, write: () => Promise<void>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (signal.aborted || !(err instanceof ClusterseedError && err.retriable)) throw err;
        const delay = backoffDelay(attempt, { maxMs: 2000 });
        logger.warn({ error: err.message, retryInMs: delay }, `lock: ${what} failed; retrying`);
        await sleep(delay, signal, clock);
      }
    }
  };

  for (let attempt = 0; ; ) {
    if (signal.aborted) throw abortReason(signal);
    try {
      const decision = await read();
      if (decision.kind === 'join') {
        logger.info({ seeds: decision.seeds.map(formatHostPort) }, 'lock: joining the existing cluster');
        return await finish(decision.seeds, false);
      }
      if (decision.kind === 'repair' || config.bootstrap.newClusterEnabled) {
        const held = await lock.tryLock(self, options);
        if (held) {
          try {
            const outcome = await underLock();
            if (outcome) return outcome;
          } finally {
            await held.release();
          }
        } else {
          waitingOn(progress, 'waiting for the lock holder to record a cluster', 'a lock holder that crashed releases the lock when its session/lease expires');
        }
      } else {
        waitingOn(progress, 'waiting for an existing cluster (newClusterEnabled is false)', 'start a node with newClusterEnabled true, or wait for the cluster to form');
        logger.debug({}, 'lock: no cluster yet and newClusterEnabled is false; waiting for one');
      }
      await lock.waitForChange({ ...options, maxWaitMs: WATCH_SAFETY_NET_MS });
      attempt = 0;
    } catch (err) {
      if (err instanceof JoinFailed || signal.aborted || !(err instanceof ClusterseedError && err.retriable)) throw err;
      waitingOn(progress, `the registry (last error: ${err.message})`, err.hint);
      const delay = backoffDelay(attempt++, { maxMs: config.bootstrap.discoveryMaxBackoffMs });
      logger.warn({ error: err.message, retryInMs: delay }, 'lock: registry call failed; retrying');
      await sleep(delay, signal, clock);
    }
  }

  /** Holding the lock: double-check the record, repair it, or form the cluster. */
  async function underLock(): Promise<BootstrapResult | undefined> {
    for (let step = 0; step < MAX_STEPS_UNDER_LOCK; step++) {
      const decision = await read();
      if (decision.kind === 'join') {
        logger.info({ seeds: decision.seeds.map(formatHostPort) }, 'lock: a cluster formed meanwhile; joining it');
        return finish(decision.seeds, false);
      }
      if (decision.kind === 'repair') {
        if (decision.replacement) {
          logger.warn({ stale: decision.stale && formatHostPort(decision.stale), replacement: formatHostPort(decision.replacement) },
            'lock: first-seed is not registered any more; the lowest live member replaces it');
          await lock.writeFirstSeed(decision.replacement, options);
        } else if (decision.stale) {
          logger.warn({ stale: formatHostPort(decision.stale) }, 'lock: first-seed is not registered and no member is live; starting a new election');
          await lock.clearFirstSeed(decision.stale, options);
        }
        continue;
      }
      if (!config.bootstrap.newClusterEnabled) return undefined;
      logger.info({ self: formatHostPort(self) }, 'lock: holding the lock with no cluster recorded; forming a new cluster');
      return finish([self], true);
    }
    return undefined;
  }
}

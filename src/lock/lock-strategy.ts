import { randomBytes } from 'node:crypto';
import { formatHostPort, sameContactPoint } from '../address.js';
import { abortReason, backoffDelay, retry, sleep } from '../backoff.js';
import type { BootstrapResult, StrategyContext, StrategyOutcome } from '../bootstrap/strategy.js';
import { wirePoint } from '../bootstrap/protocol.js';
import { monotonicNow } from '../clock.js';
import { channels, publish } from '../diagnostics.js';
import { ClusterseedError, ConfigError, TimeoutError } from '../errors.js';
import type { ContactPoint, Registration } from '../types.js';
import { decideFromRecord, type RecordDecision } from './decide.js';
import { watchRecord } from './record-watch.js';
import {
  isLockCapable,
  sameFormationAs,
  type ClusterRecord,
  type FirstSeed,
  type HeldLock,
  type LockCapableProvider,
  type SeedLock,
  type SeedLockOptions,
} from './seed-lock.js';

/**
 * How long a waiting node trusts its watch before it re-reads anyway. A safety net only: changes
 * arrive through the registry's watch (ZooKeeper watch, etcd watch, Consul blocking query, fs.watch).
 */
export const WATCH_SAFETY_NET_MS = 5000;

/** Re-reads under one lock hold before giving the lock up (repairs converge in one or two). */
const MAX_STEPS_UNDER_LOCK = 3;

/**
 * A lease confirmed at t is trusted until t + TTL − this margin (DESIGN §5.5.1): room for the
 * registry's own timer granularity and for the time between our check and the registry acting.
 */
export function leaseSafetyMarginMs(ttlMs: number): number {
  return Math.max(500, Math.round(ttlMs / 4));
}

/** Marks errors of the application's join(): they end the strategy, never a retry. */
class JoinFailed extends Error {}

/** ConstructR-style first-seed election (DESIGN §5.3) with fenced formation and a record watch (§5.5). */
export async function runLockStrategy(context: StrategyContext): Promise<StrategyOutcome> {
  const { provider, config, self, logger, signal } = context;
  if (!isLockCapable(provider)) {
    throw new ConfigError(`bootstrap.strategy "lock" needs a registry with a lock; discovery method "${provider.method}" has none`, {
      hint: 'use discovery method zookeeper, etcd, consul, kubernetes-api or file, or bootstrap.strategy "lowest-address"',
    });
  }
  // bootstrap() registers too; providers make a second registration of the same point a no-op, and
  // this one keeps the strategy usable (and testable) on its own.
  const registration = await retry(() => provider.register(self, { service: config.service, signal }), {
    attempts: Number.POSITIVE_INFINITY,
    maxMs: config.bootstrap.discoveryMaxBackoffMs,
    signal,
    clock: context.clock,
    onRetry: (err, _attempt, delayMs) => logger.warn({ error: (err as Error).message, retryInMs: delayMs }, 'lock: registering failed; retrying'),
  });
  logger.info({ self: formatHostPort(self), method: provider.method }, 'lock: registered');
  const progress: Progress = { waitingOn: 'reading the cluster record' };
  try {
    const { result, formation, members } = await elect(context, provider, registration, progress);
    const lock = provider.seedLock();
    let watch: { stop(): Promise<void> } | undefined;
    return {
      result,
      // Started once bootstrap() has reported the decision: a conflict is news about a decided node.
      watch: () => {
        watch ??= watchRecord({ context, lock, formation, members });
      },
      close: async () => {
        await watch?.stop();
        await registration.close();
      },
    };
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

interface Elected {
  result: BootstrapResult;
  /** The record this node's cluster is (its first seed and formation id). */
  formation: FirstSeed;
  /** Members the record listed when this node joined (for the conflict report). */
  members: number;
}

async function elect(context: StrategyContext, provider: LockCapableProvider, registration: Registration, progress: Progress): Promise<Elected> {
  const { config, self, logger, clock, signal } = context;
  const lock = provider.seedLock();
  const options: SeedLockOptions = { service: config.service, signal };
  // The live registrations only matter when the record names someone (is the first seed / a member
  // still registered?): an empty record costs no lookup. After a read that named someone, the lookup
  // runs alongside the read (one round trip instead of two: the next record most likely names someone).
  let namedSomeone = false;
  let lastRecord: ClusterRecord | undefined;
  const readFirstSeedOnly = async (): Promise<ClusterRecord> => {
    if (!lock.readFirstSeed || !lastRecord) return lock.readRecord(options);
    const firstSeed = await lock.readFirstSeed(options);
    return firstSeed ? { firstSeed, members: lastRecord.members } : { members: lastRecord.members };
  };
  const lookup = () => provider.resolve({ service: config.service }, { signal, timeoutMs: config.bootstrap.resolveTimeoutMs });
  const read = async (holdingTheLock: boolean) => {
    const early = namedSomeone ? lookup() : undefined;
    early?.catch(() => {});
    const record = await lock.readRecord(options);
    lastRecord = record;
    namedSomeone = record.firstSeed !== undefined || record.members.length > 0;
    if (!namedSomeone) return decideFromRecord(record, [], self);
    // A founder's `forming` record is no cluster to join, live founder or not: either way the next step
    // is the lock, and only its holder needs to know which (underLock reads again, with the lookup).
    if (!holdingTheLock && record.firstSeed?.forming) {
      const decision: RecordDecision = { kind: 'wait-for-founder', founder: record.firstSeed.point, forming: record.firstSeed };
      return decision;
    }
    return decideFromRecord(record, await (early ?? lookup()), self);
  };
  const finish = async (seeds: ContactPoint[], formation: FirstSeed, founder?: HeldLock): Promise<Elected> => {
    try {
      await context.join(seeds);
    } catch (err) {
      throw new JoinFailed('join failed', { cause: err });
    }
    const formed: FirstSeed = { point: formation.point, ...(formation.cluster !== undefined ? { cluster: formation.cluster } : {}) };
    if (founder) await completeFormation(founder, formation, formed);
    // A node adds itself to members only while the record still is the cluster it joined; otherwise
    // the record watch reports the conflict as soon as bootstrap() has reported the decision.
    // first-seed decides; the member count (for a conflict report) may come from the read that decided.
    const record = await persist('reading the cluster record', () => readFirstSeedOnly());
    const current = record.firstSeed !== undefined && sameFormationAs(record.firstSeed, formed);
    if (current) await persist('adding self to members', () => lock.addMember(self, options));
    return {
      result: { seeds, self: registration.self, formedNewCluster: founder !== undefined, strategy: 'lock', elapsedMs: clock.now() - context.startedAt },
      formation: current ? record.firstSeed! : formed,
      // Counted from the record only while it is ours: another formation's members are not ours.
      members: current ? Math.max(1, record.members.filter((m) => !sameContactPoint(m, self)).length + 1) : 1,
    };
  };
  /**
   * After the founder's join([self]): first-seed loses its `forming` mark, fenced like the first write.
   * A founder that lost the lock inside join() (frozen, cut off) takes it again and finishes while the
   * record still is its own formation (or empty); when someone else's formation is recorded it stops
   * here, and the record watch makes it yield.
   */
  const completeFormation = async (held: HeldLock, forming: FirstSeed, formed: FirstSeed) => {
    let expected: FirstSeed | undefined = forming;
    let holding = held;
    let retaken: HeldLock | undefined;
    try {
      for (;;) {
        if (await persist('completing first-seed', () => holding.writeFirstSeed(formed, expected, options))) return;
        const current = (await persist('reading the cluster record', () => lock.readRecord(options))).firstSeed;
        if (current && !sameFormationAs(current, forming)) return;
        if (current && !current.forming) return; // completed by an earlier attempt whose answer was lost
        logger.warn({}, 'lock: the lock was lost while joining (frozen or cut off); taking it again to complete first-seed');
        expected = current;
        await retaken?.release();
        retaken = undefined;
        while (!(retaken = await persist('acquiring the lock', () => lock.tryLock(self, options)))) {
          await lock.waitForChange({ ...options, maxWaitMs: WATCH_SAFETY_NET_MS });
        }
        holding = retaken;
      }
    } finally {
      await retaken?.release();
    }
  };
  // After a join the member entry must be written; retry transient failures until the caller gives up.
  const persist = <T>(what: string, call: () => Promise<T>): Promise<T> =>
    retry(call, {
      attempts: Number.POSITIVE_INFINITY,
      maxMs: 2000,
      signal,
      clock,
      onRetry: (err, _attempt, delayMs) => logger.warn({ error: (err as Error).message, retryInMs: delayMs }, `lock: ${what} failed; retrying`),
    });

  for (let attempt = 0; ; ) {
    if (signal.aborted) throw abortReason(signal);
    try {
      const decision = await read(false);
      if (decision.kind === 'join') {
        logger.info({ seeds: decision.seeds.map(formatHostPort) }, 'lock: joining the existing cluster');
        return await finish(decision.seeds, decision.formation);
      }
      // A forming founder holds the lock while it joins: the lock attempt fails and we wait for it.
      // If it gave the lock up, holding the lock ourselves is how we find out (underLock clears it).
      if (decision.kind === 'repair' || decision.kind === 'wait-for-founder' || config.bootstrap.newClusterEnabled) {
        const held = await lock.tryLock(self, options);
        if (held) {
          try {
            const outcome = await underLock(held);
            if (outcome) return outcome;
          } finally {
            await held.release();
          }
        } else if (decision.kind === 'wait-for-founder') {
          waitingOn(
            progress,
            `waiting for ${formatHostPort(decision.founder)} to finish forming the cluster`,
            'a founder that dies inside its join releases the lock when its session/lease expires',
          );
        } else {
          waitingOn(progress, 'waiting for the lock holder to record a cluster', 'a lock holder that crashed releases the lock when its session/lease expires');
        }
      } else {
        waitingOn(
          progress,
          'waiting for an existing cluster (newClusterEnabled is false)',
          'start a node with newClusterEnabled true, or wait for the cluster to form',
        );
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

  /** Holding the lock: double-check the record, repair it, or form the cluster — every write fenced. */
  async function underLock(held: HeldLock): Promise<Elected | undefined> {
    for (let step = 0; step < MAX_STEPS_UNDER_LOCK; step++) {
      const decision = await read(true);
      if (decision.kind === 'join') {
        logger.info({ seeds: decision.seeds.map(formatHostPort) }, 'lock: a cluster formed meanwhile; joining it');
        return finish(decision.seeds, decision.formation);
      }
      if (decision.kind === 'wait-for-founder') {
        // We hold the lock, so the founder does not: it abandoned its formation (its forming write
        // failed with an unknown outcome) or lost the lock inside join() — then it finishes only
        // while the record is still its own, and yields otherwise.
        logger.warn({ founder: formatHostPort(decision.founder) }, 'lock: first-seed is marked forming by a node that does not hold the lock; clearing it');
        if (!(await held.writeFirstSeed(undefined, decision.forming, options))) return lostTheRecord('clearing an abandoned first-seed');
        continue;
      }
      if (decision.kind === 'repair') {
        if (decision.replacement) {
          logger.warn(
            { stale: decision.stale && formatHostPort(decision.stale.point), replacement: formatHostPort(decision.replacement.point) },
            'lock: first-seed is not registered any more; the lowest live member replaces it',
          );
        } else if (decision.stale) {
          logger.warn({ stale: formatHostPort(decision.stale.point) }, 'lock: first-seed is not registered and no member is live; starting a new election');
        }
        if (!(await held.writeFirstSeed(decision.replacement, decision.stale, options))) return lostTheRecord('repairing first-seed');
        continue;
      }
      if (!config.bootstrap.newClusterEnabled) return undefined;
      logger.info({ self: formatHostPort(self) }, 'lock: holding the lock with no cluster recorded; forming a new cluster');
      const formation: FirstSeed = { point: wirePoint(self), cluster: randomBytes(8).toString('hex'), forming: true };
      let confirmedAt = recentConfirmation(lock, clock) ?? (await confirmLease(lock, options, clock));
      if (mayHaveExpired(lock, confirmedAt, clock)) {
        logger.warn(
          { leaseTtlMs: lock.leaseTtlMs },
          'lock: the lease may have expired while confirming it (the process was frozen or the registry slow); re-reading',
        );
        continue;
      }
      if (!(await held.writeFirstSeed(formation, undefined, options))) return lostTheRecord('writing first-seed');
      // Written while provably holding the lock. Before join([self]) the lease must still be live:
      // a node frozen right here must not form on a record others may have repaired meanwhile.
      while (mayHaveExpired(lock, confirmedAt, clock)) {
        logger.warn(
          { leaseTtlMs: lock.leaseTtlMs },
          'lock: the lease may have expired after first-seed was written; confirming it and re-reading before forming',
        );
        confirmedAt = await confirmLease(lock, options, clock);
        const record = await lock.readRecord(options);
        if (!record.firstSeed || !sameFormationAs(record.firstSeed, formation)) return lostTheRecord('forming');
      }
      logger.info(
        { firstSeed: formatHostPort(self), cluster: formation.cluster },
        'lock: first-seed written under the lock; forming a new cluster (self-join)',
      );
      return finish([self], formation, held);
    }
    return undefined;
  }

  function lostTheRecord(what: string): undefined {
    logger.warn({}, `lock: ${what}: the lock was lost (lease/session expired) or the record changed; re-reading instead of writing`);
    return undefined;
  }
}

/** One renewal round trip; resolves with the monotonic time at which it was sent. */
async function confirmLease(lock: SeedLock, options: SeedLockOptions, clock: StrategyContext['clock']): Promise<number> {
  const sentAt = monotonicNow(clock);
  await lock.confirmLease(options);
  return sentAt;
}

/**
 * The registry's latest confirmation of the lease/session (SeedLock.confirmedAt) while it is recent —
 * less than half the trusted window old, so there is room left to write and join — else undefined.
 */
function recentConfirmation(lock: SeedLock, clock: StrategyContext['clock']): number | undefined {
  const at = lock.confirmedAt?.();
  const trusted = lock.leaseTtlMs - leaseSafetyMarginMs(lock.leaseTtlMs);
  return at !== undefined && monotonicNow(clock) - at < trusted / 2 ? at : undefined;
}

function mayHaveExpired(lock: SeedLock, confirmedAt: number, clock: StrategyContext['clock']): boolean {
  return monotonicNow(clock) - confirmedAt >= lock.leaseTtlMs - leaseSafetyMarginMs(lock.leaseTtlMs);
}

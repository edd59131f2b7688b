import { canonicalize, formatHostPort, sameContactPoint } from '../address.js';
import { backoffDelay, sleep } from '../backoff.js';
import type { ClusterConflict } from '../bootstrap/conflict.js';
import type { StrategyContext } from '../bootstrap/strategy.js';
import { describeError } from '../errors.js';
import { MAX_SEEDS } from './decide.js';
import { sameFormationAs, type ClusterRecord, type FirstSeed, type SeedLock } from './seed-lock.js';

export interface RecordWatchOptions {
  context: StrategyContext;
  lock: SeedLock;
  /** The record of the cluster this node is in. */
  formation: FirstSeed;
  /** Members the record listed when this node joined. */
  members: number;
}

/**
 * After the decision, until close() (DESIGN §5.5.3): the lock strategy watches the cluster record.
 * The registry's first-seed is the truth (§5.5.4): while it names this node's formation (a repair may
 * move it to another member of the same formation) the node keeps its member entry there; when it
 * names another formation, this node's cluster is the loser — it removes its member entry and yields.
 * A record without first-seed (being repaired) is no verdict yet.
 */
export function watchRecord({ context, lock, formation, members }: RecordWatchOptions): { stop(): Promise<void> } {
  const { config, self, logger, clock } = context;
  const stopping = new AbortController();
  const options = { service: config.service, signal: stopping.signal };
  let ours = formation;
  let ourMembers = members;

  const conflictWith = (record: ClusterRecord & { firstSeed: FirstSeed }): ClusterConflict => {
    const theirs = record.firstSeed.point;
    // Our own member entry is not theirs (it is removed right after this report).
    const members = canonicalize(record.members).filter((m) => !sameContactPoint(m, self));
    const others = members.filter((m) => !sameContactPoint(m, theirs));
    return {
      strategy: 'lock',
      ours: { firstSeed: ours.point, members: ourMembers },
      theirs: { firstSeed: theirs, seeds: [theirs, ...others].slice(0, MAX_SEEDS), members: Math.max(1, members.length) },
      yielding: true,
    };
  };

  const run = async () => {
    for (let failures = 0; !stopping.signal.aborted; ) {
      try {
        const record = await lock.readRecord(options);
        failures = 0;
        if (stopping.signal.aborted) return;
        if (record.firstSeed && !sameFormationAs(record.firstSeed, ours)) {
          const conflict = conflictWith(record as ClusterRecord & { firstSeed: FirstSeed });
          // Out of the record first: a late joiner must not be sent to a node that is leaving.
          await lock
            .removeMember(self, options)
            .catch((err: unknown) =>
              logger.warn({ error: describeError(err) }, 'lock: removing this node from members failed; the entry goes with its lease/session'),
            );
          context.onConflict(conflict);
          return;
        }
        if (record.firstSeed) {
          ours = record.firstSeed;
          ourMembers = Math.max(1, record.members.length);
          // Restores the entry after a lost lease/session (providers do not: see SeedLock.addMember).
          if (!record.members.some((m) => sameContactPoint(m, self))) await lock.addMember(self, options);
        }
        await lock.waitForChange({ ...options, maxWaitMs: config.bootstrap.conflictCheckIntervalMs });
      } catch (err) {
        if (stopping.signal.aborted) return;
        const delay = backoffDelay(failures++, { initialMs: 200, maxMs: config.bootstrap.conflictCheckIntervalMs });
        logger.warn(
          { error: describeError(err), retryInMs: delay, firstSeed: formatHostPort(ours.point) },
          'lock: checking the cluster record failed; retrying',
        );
        await sleep(delay, stopping.signal, clock).catch(() => {});
      }
    }
  };
  const running = run();
  return {
    stop: async () => {
      stopping.abort();
      await running; // no member entry written after close() removed it
    },
  };
}

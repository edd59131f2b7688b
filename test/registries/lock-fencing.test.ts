import { describe, expect, it } from 'vitest';
import { sameContactPoint } from '../../src/address.js';
import type { ClusterConflict } from '../../src/bootstrap/conflict.js';
import type { StrategyContext } from '../../src/bootstrap/strategy.js';
import type { Clock } from '../../src/clock.js';
import { Config } from '../../src/config/schema.js';
import { leaseSafetyMarginMs, runLockStrategy } from '../../src/lock/lock-strategy.js';
import type { ClusterRecord, FirstSeed, HeldLock, SeedLock, SeedLockOptions } from '../../src/lock/seed-lock.js';
import type { ContactPoint, Lookup, RegisterOptions, Registration } from '../../src/types.js';
import { recordingLogger } from './helpers.js';

/*
 * The lease-age gate of DESIGN §5.5.1 on a scripted registry: time is a number the test moves, so "the
 * process froze for a whole TTL right here" is exact. (The real registries' fences — etcd txn,
 * ZooKeeper multi, Consul txn, file token — are exercised in test/faults/ with SIGSTOP.)
 */

const TTL = 4000;
const self: ContactPoint = { host: '10.0.0.5', port: 7626 };
const other: ContactPoint = { host: '10.0.0.9', port: 7626 };

class ScriptedRegistry {
  now = 0;
  record: ClusterRecord = { members: [] };
  live: ContactPoint[] = [];
  lockHolder: ContactPoint | undefined;
  writes: (FirstSeed | undefined)[] = [];
  confirms = 0;
  /** Runs inside confirmLease / after a successful write: the test's "freeze" hooks. */
  onConfirm: (n: number) => void = () => {};
  onWrite: (next: FirstSeed | undefined) => void = () => {};

  readonly clock: Clock = {
    now: () => this.now,
    setTimeout: (fn) => {
      const t = setImmediate(fn);
      return { cancel: () => clearImmediate(t), unref: () => {} };
    },
  };

  readonly lock: SeedLock = {
    leaseTtlMs: TTL,
    confirmLease: async () => {
      this.onConfirm(++this.confirms);
    },
    readRecord: async () => structuredClone(this.record),
    tryLock: async (who: ContactPoint): Promise<HeldLock | undefined> => {
      if (this.lockHolder) return undefined;
      this.lockHolder = who;
      return {
        writeFirstSeed: async (next, expected) => {
          if (!this.lockHolder || !sameContactPoint(this.lockHolder, who)) return false;
          if (JSON.stringify(this.record.firstSeed) !== JSON.stringify(expected)) return false;
          if (next) this.record.firstSeed = next;
          else delete this.record.firstSeed;
          this.writes.push(next);
          this.onWrite(next);
          return true;
        },
        release: async () => {
          if (this.lockHolder && sameContactPoint(this.lockHolder, who)) this.lockHolder = undefined;
        },
      };
    },
    addMember: async (p) => {
      this.record.members.push(p);
    },
    removeMember: async (p) => {
      this.record.members = this.record.members.filter((m) => !sameContactPoint(m, p));
    },
    waitForChange: async (_o: SeedLockOptions & { maxWaitMs: number }) => {
      await new Promise((r) => setImmediate(r));
    },
  };

  readonly provider = {
    method: 'scripted',
    resolve: async (_l: Lookup) => [...this.live],
    register: async (p: ContactPoint, _o: RegisterOptions): Promise<Registration> => {
      this.live.push(p);
      return {
        self: p,
        close: async () => {
          this.live = this.live.filter((l) => l !== p);
        },
      };
    },
    seedLock: () => this.lock,
    close: async () => {},
  };
}

function context(reg: ScriptedRegistry, joined: ContactPoint[][], conflicts: ClusterConflict[] = []) {
  const logger = recordingLogger();
  const ctx: StrategyContext = {
    config: Config.parse({ service: 's', discovery: { method: 'file' }, bootstrap: { strategy: 'lock' } }),
    provider: reg.provider,
    self,
    logger,
    clock: reg.clock,
    signal: AbortSignal.timeout(10_000),
    startedAt: 0,
    join: async (seeds) => {
      joined.push(seeds);
    },
    onConflict: (c) => conflicts.push(c),
  };
  return { ctx, logger };
}

describe('lock strategy: a lease that may have expired forms nothing (DESIGN §5.5.1)', () => {
  it('a confirmation that took TTL − margin or longer (a freeze) is not trusted: no write until a prompt one', async () => {
    const reg = new ScriptedRegistry();
    reg.onConfirm = (n) => {
      if (n === 1) reg.now += TTL - leaseSafetyMarginMs(TTL);
    };
    const joined: ContactPoint[][] = [];
    const { ctx, logger } = context(reg, joined);
    const outcome = await runLockStrategy(ctx);
    expect(logger.lines.some((l) => /may have expired while confirming/.test(l.msg))).toBe(true);
    // The first write came after the second, prompt, confirmation.
    expect(reg.confirms).toBe(2);
    expect(reg.writes.map((w) => w && { host: w.point.host, forming: w.forming === true })).toEqual([
      { host: '10.0.0.5', forming: true },
      { host: '10.0.0.5', forming: false },
    ]);
    expect(joined).toEqual([[self]]);
    expect(outcome.result.formedNewCluster).toBe(true);
    await outcome.close();
  });

  it('frozen right after the fenced write while others repaired the record: joins them, never join([self])', async () => {
    const reg = new ScriptedRegistry();
    reg.live.push(other);
    reg.onWrite = (next) => {
      if (!next?.forming) return;
      // Frozen for a whole TTL after writing: our lease (and lock) expired, another node cleared our
      // forming record and formed its own cluster.
      reg.now += TTL;
      reg.lockHolder = undefined;
      reg.record = { firstSeed: { point: other, cluster: 'theirs' }, members: [other] };
    };
    const joined: ContactPoint[][] = [];
    const { ctx, logger } = context(reg, joined);
    const outcome = await runLockStrategy(ctx);
    expect(logger.lines.some((l) => /may have expired after first-seed was written/.test(l.msg))).toBe(true);
    expect(joined).toEqual([[other]]);
    expect(outcome.result).toMatchObject({ formedNewCluster: false, seeds: [other] });
    expect(reg.record.firstSeed).toEqual({ point: other, cluster: 'theirs' });
    await outcome.close();
  });

  it('after deciding, a record naming another formation makes the node leave members and yield', async () => {
    const reg = new ScriptedRegistry();
    const joined: ContactPoint[][] = [];
    const conflicts: ClusterConflict[] = [];
    const { ctx } = context(reg, joined, conflicts);
    const outcome = await runLockStrategy(ctx);
    expect(reg.record.members).toEqual([self]);
    reg.record = { firstSeed: { point: other, cluster: 'theirs' }, members: [other, self] };
    outcome.watch?.();
    for (let i = 0; i < 100 && conflicts.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(conflicts).toEqual([
      {
        strategy: 'lock',
        yielding: true,
        ours: { firstSeed: self, members: 1 },
        theirs: { firstSeed: other, seeds: [other], members: 1 },
      },
    ]);
    expect(reg.record.members).toEqual([other]);
    await outcome.close();
  });
});

import { sameContactPoint } from '../address.js';
import type { ContactPoint, RegistryProvider } from '../types.js';

/*
 * The registry operations the `lock` strategy (DESIGN §5.3, §5.5) needs. Implemented by the zookeeper,
 * etcd, consul and file providers; layout under `<root>/<service>/`: `nodes/` (registrations), `lock`,
 * `first-seed`, `members/`.
 */

/** The first-seed entry: who formed the cluster, and which formation it is. */
export interface FirstSeed {
  point: ContactPoint;
  /**
   * Identity of the formation: random, chosen by the founder, kept when a repair hands first-seed to a
   * live member. Two records with different ids are two clusters. Absent in records of older versions.
   */
  cluster?: string;
  /**
   * Written (fenced) before the founder's join([self]) and cleared (fenced) once it resolved: nobody
   * joins a cluster that does not exist yet, and a founder that dies inside join() leaves a record its
   * liveness check clears, instead of members stuck on a seed that never formed.
   */
  forming?: true;
}

export interface ClusterRecord {
  /** The cluster's first seed, when one formed. */
  firstSeed?: FirstSeed;
  /** Nodes that joined (first seed included), canonical order. */
  members: ContactPoint[];
}

export interface HeldLock {
  /**
   * The fenced write of DESIGN §5.5.1: sets first-seed to `next` (deletes it when undefined) only if,
   * in the same atomic registry operation, this lock is still held by this node's live lease/session
   * and first-seed still is `expected` (undefined: absent). Resolves false when either check failed —
   * the lock was lost or someone else wrote the record — and then nothing was written.
   */
  writeFirstSeed(next: FirstSeed | undefined, expected: FirstSeed | undefined, options: SeedLockOptions): Promise<boolean>;
  /** Releases the lock (idempotent). A crashed holder's lock expires with its session/lease. */
  release(): Promise<void>;
}

export interface SeedLockOptions {
  service: string;
  signal?: AbortSignal;
}

export interface SeedLock {
  /** How long this node's lease/session lives after a confirmed renewal (etcd lease TTL, ZooKeeper session timeout…). */
  readonly leaseTtlMs: number;
  /**
   * One round trip that renews (or proves alive) this node's lease/session. Resolves once the registry
   * confirmed it; rejects when it is lost or unreachable. The caller measures from the moment it called.
   */
  confirmLease(options: SeedLockOptions): Promise<void>;
  /**
   * The monotonic time (monotonicNow of the provider's clock) at which the latest renewal of the current
   * lease/session that the registry confirmed was sent — a keepalive, or any request that renews it —
   * or undefined when there is none (or the lease/session was replaced since). Lets the strategy skip a
   * confirmLease round trip right after one; the same trust window applies (DESIGN §5.5.1).
   */
  confirmedAt?(): number | undefined;
  /** Reads first-seed and members. */
  readRecord(options: SeedLockOptions): Promise<ClusterRecord>;
  /** Reads first-seed alone (cheaper than readRecord where members are a listing of their own). */
  readFirstSeed?(options: SeedLockOptions): Promise<FirstSeed | undefined>;
  /** One attempt; undefined when another node holds the lock. */
  tryLock(self: ContactPoint, options: SeedLockOptions): Promise<HeldLock | undefined>;
  /**
   * Adds this node to members (idempotent); the entry lives as long as the node's lease/session and is
   * not restored by the provider after a loss: the strategy re-adds it once it checked the record.
   */
  addMember(self: ContactPoint, options: SeedLockOptions): Promise<void>;
  /** Removes this node from members (it yielded in a conflict). */
  removeMember(self: ContactPoint, options: SeedLockOptions): Promise<void>;
  /**
   * Resolves at the next change of first-seed, members or the lock (watch / blocking query / fs.watch),
   * or after `maxWaitMs` at the latest (a safety net, not the mechanism).
   */
  waitForChange(options: SeedLockOptions & { maxWaitMs: number }): Promise<void>;
}

export type LockCapableProvider = RegistryProvider & { seedLock(): SeedLock };

export function isLockCapable(p: unknown): p is LockCapableProvider {
  return typeof (p as { seedLock?: unknown }).seedLock === 'function' && typeof (p as { register?: unknown }).register === 'function';
}

/**
 * Same formation: the ids decide when both records have one (a repair moves first-seed to another
 * member of the same cluster), else the first seeds' addresses (records of older versions).
 */
export function sameFormationAs(a: FirstSeed, b: FirstSeed): boolean {
  if (a.cluster !== undefined && b.cluster !== undefined) return a.cluster === b.cluster;
  return sameContactPoint(a.point, b.point);
}

import type { ContactPoint, RegistryProvider } from '../types.js';

/*
 * The registry operations the `lock` strategy (DESIGN §5.3) needs. Implemented by the zookeeper, etcd,
 * consul and file providers; layout under `<root>/<service>/`: `nodes/` (registrations), `lock`,
 * `first-seed`, `members/`.
 */

export interface ClusterRecord {
  /** The node that formed the cluster, when one did. */
  firstSeed?: ContactPoint;
  /** Nodes that joined (first seed included), canonical order. */
  members: ContactPoint[];
}

export interface HeldLock {
  /** Releases the lock (idempotent). A crashed holder's lock expires with its session/lease. */
  release(): Promise<void>;
}

export interface SeedLockOptions {
  service: string;
  signal?: AbortSignal;
}

export interface SeedLock {
  /** Reads first-seed and members. */
  readRecord(options: SeedLockOptions): Promise<ClusterRecord>;
  /** One attempt; undefined when another node holds the lock. */
  tryLock(self: ContactPoint, options: SeedLockOptions): Promise<HeldLock | undefined>;
  /** Sets first-seed (winner only, under the lock). */
  writeFirstSeed(seed: ContactPoint, options: SeedLockOptions): Promise<void>;
  /** Removes first-seed when it still equals `stale` (compare-and-delete). */
  clearFirstSeed(stale: ContactPoint, options: SeedLockOptions): Promise<void>;
  /** Adds this node to members; the entry lives as long as the node's registration. */
  addMember(self: ContactPoint, options: SeedLockOptions): Promise<void>;
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

import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { ContactPoint, DiscoveryProvider } from '../types.js';
import type { ClusterConflict } from './conflict.js';

/** What both strategies produce (DESIGN §5). seeds[0] is the cluster's first seed on every node. */
export interface BootstrapResult {
  seeds: ContactPoint[];
  self: ContactPoint;
  formedNewCluster: boolean;
  strategy: 'lowest-address' | 'lock';
  elapsedMs: number;
}

/** Everything a strategy needs; the coordinator (bootstrap()) builds it. */
export interface StrategyContext {
  config: Config;
  /** The configured discovery provider (already instrumented). */
  provider: DiscoveryProvider;
  /** The advertised address of this node (port always set: the management port by default). */
  self: ContactPoint;
  /** The application's join. Called once with the decided seeds, before the strategy returns. */
  join: (seeds: ContactPoint[]) => Promise<void>;
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  /** Time origin for elapsedMs. */
  startedAt: number;
  /** A conflict found after the decision (DESIGN §5.5): published, logged and handed to the app's onConflict. */
  onConflict: (conflict: ClusterConflict) => void;
}

/** A running strategy: the decision, plus what must stay alive until close(). */
export interface StrategyOutcome {
  result: BootstrapResult;
  /** Starts the post-decision checks (DESIGN §5.5.3); called once bootstrap() has reported the decision. */
  watch?(): void;
  close(): Promise<void>;
}

import { ConfigError } from '../errors.js';
import type { StrategyContext, StrategyOutcome } from '../bootstrap/strategy.js';

/** ConstructR-style first-seed election (DESIGN §5.3). */
export async function runLockStrategy(_context: StrategyContext): Promise<StrategyOutcome> {
  throw new ConfigError('bootstrap.strategy "lock" is not available in this version', { hint: 'use "lowest-address"' });
}

import type { Clock } from '../../../src/clock.js';
import { systemClock } from '../../../src/clock.js';

/**
 * A clock whose timers run `scale` times as long (0.05 → 20× faster). Paired with the emulator's
 * `timeScale`, a provider's refresh intervals (TTL/3) keep their ratio to the emulator's TTLs, so
 * tests exercise real 10 s TTL settings in half a second.
 */
export function scaledClock(scale: number): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => systemClock.setTimeout(fn, Math.max(1, Math.round(ms * scale))),
  };
}

/** A node that froze: its timers never fire (no refresh, no renewal), as if the process were SIGSTOPped or dead. */
export const frozenClock: Clock = {
  now: () => Date.now(),
  setTimeout: () => ({ cancel() {}, unref() {} }),
};

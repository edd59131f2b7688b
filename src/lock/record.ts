import { sameContactPoint } from '../address.js';
import { decodeFirstSeed } from './codec.js';
import type { FirstSeed } from './seed-lock.js';

/**
 * Whether the stored first-seed text is `expected` (undefined: no entry). A malformed entry is never
 * the expected one, so a fenced write over it fails rather than guessing.
 */
export function sameStoredFirstSeed(text: string | undefined, expected: FirstSeed | undefined, field: string): boolean {
  if (text === undefined || expected === undefined) return text === undefined && expected === undefined;
  let stored: FirstSeed;
  try {
    stored = decodeFirstSeed(text, field);
  } catch {
    return false;
  }
  return sameContactPoint(stored.point, expected.point) && stored.cluster === expected.cluster && stored.forming === expected.forming;
}

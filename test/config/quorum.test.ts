import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { partitionRisk } from '../../src/config/schema.js';

// DESIGN §5.5.2: the quorum default lives in the schema, so `config check`, loadConfig() and
// bootstrap() all see the same effective requiredContactPoints.
const bootstrapOf = (bootstrap: Record<string, unknown>) => parseConfig({ service: 's', bootstrap }).bootstrap;

describe('requiredContactPoints: a majority of expectedContactPoints by default', () => {
  it.each([
    [undefined, 2],
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [50, 26],
  ])('E = %s → %s', (expected, required) => {
    const b = bootstrapOf(expected === undefined ? {} : { expectedContactPoints: expected });
    expect(b.requiredContactPoints).toBe(required);
    expect(partitionRisk(b)).toBeUndefined();
  });

  it('an explicit value wins; at most half of E names the partition risk, more than half does not', () => {
    const risky = bootstrapOf({ expectedContactPoints: 5, requiredContactPoints: 2 });
    expect(risky.requiredContactPoints).toBe(2);
    expect(partitionRisk(risky)).toMatch(/requiredContactPoints 2 is at most half of expectedContactPoints 5.*partition.*default 3/);
    expect(partitionRisk(bootstrapOf({ expectedContactPoints: 4, requiredContactPoints: 2 }))).toMatch(/at most half/);
    expect(partitionRisk(bootstrapOf({ expectedContactPoints: 5, requiredContactPoints: 4 }))).toBeUndefined();
    expect(partitionRisk(bootstrapOf({ requiredContactPoints: 1 }))).toBeUndefined(); // no E: nothing to compare with
  });

  it('conflictCheckIntervalMs defaults to 5000 and rejects 0 with the key named', () => {
    expect(bootstrapOf({}).conflictCheckIntervalMs).toBe(5000);
    expect(() => bootstrapOf({ conflictCheckIntervalMs: 0 })).toThrow(/bootstrap\.conflictCheckIntervalMs: expected integer 1-/);
  });
});

import { describe, expect, it } from 'vitest';
import { runScenario } from './world.js';

// Negative control: the same seeded scenarios, run by coordinators without the rules of DESIGN §5.5
// (no conflict checks after the decision, "lowest first seed" for joiners that see two clusters, and
// requiredContactPoints 2 instead of a majority of expectedContactPoints). They must leave split
// brains behind in some seeds, or the simulation's "0 failures" with the real rules would prove
// nothing. Seeds 1…100 are part of sim-1.test.ts, where the real rules pass all of them.
const SEEDS = 100;

describe('simulation, negative control', () => {
  it(`without the rules of DESIGN §5.5, some of seeds 1…${SEEDS} end in a split brain`, { timeout: 120_000 }, async () => {
    const splitBrains: number[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runScenario(seed, { legacy: true });
      if (!r.ok && r.failure!.startsWith('split brain')) splitBrains.push(seed);
    }
    process.stderr.write(`negative control: ${splitBrains.length} of ${SEEDS} seeds end in a split brain (${splitBrains.join(', ')})\n`);
    expect(splitBrains.length).toBeGreaterThan(0);
  });
});

import { expect, it } from 'vitest';
import { runScenario } from './world.js';

/** Registers tests running seeds [from, from + count) in chunks; a failing seed prints its replayable trace. */
export function seedTests(from: number, count: number, chunk = 125): void {
  for (let start = from; start < from + count; start += chunk) {
    const end = Math.min(from + count, start + chunk);
    it(`one cluster forms: seeds ${start}…${end - 1}`, { timeout: 300_000 }, async () => {
      const failed: string[] = [];
      for (let seed = start; seed < end; seed++) {
        const r = await runScenario(seed);
        if (!r.ok) {
          const replay = await runScenario(seed, { trace: true });
          const trace = replay.trace.length > 400 ? [...replay.trace.slice(0, 30), '…', ...replay.trace.slice(-300)] : replay.trace;
          process.stderr.write(`\n--- seed ${seed} FAILED: ${r.failure}\nreplay: npm run sim -- --seed ${seed}\n${trace.join('\n')}\n`);
          failed.push(`seed ${seed}: ${r.failure}`);
        }
      }
      expect(failed).toEqual([]);
    });
  }
}

// npm run sim -- [--seeds N] [--from S] [--workers W] [--legacy] | --seed S [--legacy]
// --legacy runs the negative control (coordinators without DESIGN §5.5): it must fail some seeds.
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario } from './world.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '2000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    trace: { type: 'boolean', default: false },
    workers: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    child: { type: 'boolean', default: false },
    legacy: { type: 'boolean', default: false },
  },
});

/** Runs seeds [from, from + count); failures are reported as they happen, so an interrupted run still tells. */
interface Stats {
  yields: number;
  seedsWithYields: number;
  maxSettledAfterCalmMs: number;
}

async function runRange(
  from: number,
  count: number,
  onFail: (seed: number, why: string) => void,
  report: (done: number, stats: Stats) => void,
): Promise<number[]> {
  const failed: number[] = [];
  const stats: Stats = { yields: 0, seedsWithYields: 0, maxSettledAfterCalmMs: 0 };
  for (let s = from; s < from + count; s++) {
    const r = await runScenario(s, { legacy: values.legacy });
    if (!r.ok) {
      failed.push(s);
      onFail(s, r.failure ?? '');
    }
    stats.yields += r.yields;
    if (r.yields > 0) stats.seedsWithYields++;
    stats.maxSettledAfterCalmMs = Math.max(stats.maxSettledAfterCalmMs, r.settledAfterCalmMs ?? 0);
    if ((s - from + 1) % 100 === 0) report(s - from + 1, stats);
  }
  report(count, stats);
  return failed;
}

if (values.seed !== undefined) {
  const r = await runScenario(Number(values.seed), { trace: true, legacy: values.legacy });
  process.stdout.write(`${r.trace.join('\n')}\n${r.ok ? 'OK' : `FAILED: ${r.failure}`}\n`);
  process.exitCode = r.ok ? 0 : 1;
} else if (values.child) {
  await runRange(
    Number(values.from),
    Number(values.seeds),
    (seed, why) => process.send!({ failedSeed: seed, why }),
    (done, stats) => process.send!({ done, stats }),
  );
  process.send!({ finished: true }, () => process.exit(0));
} else {
  const total = Number(values.seeds);
  const from = Number(values.from);
  const workers = Math.max(1, Math.min(Number(values.workers), total));
  const started = Date.now();
  const per = Math.ceil(total / workers);
  const progress = new Array<number>(workers).fill(0);
  const stats: Stats[] = [];
  const failed: number[] = [];
  await Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<void>((resolve, reject) => {
          const count = Math.max(0, Math.min(per, total - w * per));
          const child = fork(
            fileURLToPath(import.meta.url),
            ['--child', '--from', String(from + w * per), '--seeds', String(count), ...(values.legacy ? ['--legacy'] : [])],
            { execArgv: ['--import', 'tsx'] },
          );
          child.on('message', (m: { done?: number; stats?: Stats; failedSeed?: number; why?: string }) => {
            if (m.stats) stats[w] = m.stats;
            if (m.failedSeed !== undefined) {
              failed.push(m.failedSeed);
              process.stderr.write(
                `\nsim: seed ${m.failedSeed} FAILED: ${m.why} (replay: npm run sim -- --seed ${m.failedSeed}${values.legacy ? ' --legacy' : ''})\n`,
              );
            }
            if (m.done !== undefined) {
              progress[w] = m.done;
              const done = progress.reduce((a, b) => a + b, 0);
              const ranges = progress.map((d, i) => (d > 0 ? `${from + i * per}…${from + i * per + d - 1}` : '-')).join(', ');
              process.stderr.write(`sim: ${done}/${total} seeds done (${ranges}), ${failed.length} failed, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
            }
          });
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w} exited ${code}`))));
        }),
    ),
  );
  const secs = (Date.now() - started) / 1000;
  process.stderr.write('\n');
  const yields = stats.reduce((a, s) => a + s.yields, 0);
  const withYields = stats.reduce((a, s) => a + s.seedsWithYields, 0);
  const settle = Math.max(0, ...stats.map((s) => s.maxSettledAfterCalmMs));
  process.stdout.write(
    `sim${values.legacy ? ' (legacy rules: negative control)' : ''}: ${total} seeds (${from}…${from + total - 1}) ` +
      `in ${secs.toFixed(1)} s on ${workers} worker(s): ${failed.length} failed\n`,
  );
  process.stdout.write(
    `  ${withYields} seeds healed a split brain (${yields} yields in all); one cluster at most ${settle} virtual ms after the last fault healed\n`,
  );
  for (const s of failed.slice(0, 20)) process.stdout.write(`  failed seed ${s}: replay with npm run sim -- --seed ${s}${values.legacy ? ' --legacy' : ''}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

import { describe, expect, it } from 'vitest';
import { hostPort, waitUntil } from './harness/fleet.js';
import { BOUND, LowestScenario, runStepScenario } from './lowest-scenario.js';

/*
 * lowest-address under pauses and kill -9, real processes on 127.0.0.x with the file provider (ttlMs
 * 3000, expectedContactPoints 3). Each scenario has its own directory and addresses and they run
 * concurrently. Invariant and time bounds: see lowest-scenario.ts (BOUND) — after the heal exactly one
 * cluster remains, every node that decided on another one yielded with a conflict event and exit 3,
 * B and C never yield, the late joiner D joins the survivor; every node decides or yields in its bound.
 */

describe.concurrent('lowest-address on the file provider: pauses and kill -9', () => {
  // Reproduction 3 of issue 9. A forms alone (requiredContactPoints 1), is frozen until its entry is
  // stale, and B and C form a second cluster of 2. A resumes; D starts as soon as A is discovered
  // again, so it may see both clusters answer. The 2-member cluster survives (more members wins, even
  // though A is the lower first seed): A yields loudly and exits 3, D joins B's cluster.
  it('reproduction 3: a lone founder frozen past its ttl yields to the 2-member cluster; a late joiner joins the survivor', async () => {
    const s = new LowestScenario('reproduction 3', 150);
    try {
      const alone = { bootstrap: { requiredContactPoints: 1 } };
      const a = await s.start('A', alone);
      await a.waitFor((n) => n.result !== undefined || !n.alive, BOUND.step, 'form alone');
      expect(a.result?.formedNewCluster, s.context()).toBe(true);
      a.pause();
      await s.waitUnregistered(a);
      const others = await Promise.all([s.start('B', alone), s.start('C', alone)]);
      const formed = await s.othersFormed(others);
      expect(formed.startsWith(`${s.host('B')}:`), s.context()).toBe(true);

      a.resume();
      // A's overdue refresh rewrites its entry right away: from then on D can discover it (unless it already left).
      await waitUntil(async () => !a.alive || (await s.registered(a)), BOUND.settle, 'A to be discovered again or to exit', s.context);
      const d = await s.start('D');
      await s.settle(formed);
      const c = a.conflict;
      expect(c, `A did not yield\n${s.context()}`).toBeDefined();
      expect(c!.yielding).toBe(true);
      expect(hostPort(c!.ours.firstSeed)).toBe(a.self);
      expect(c!.ours.members).toBe(1);
      expect(hostPort(c!.theirs.firstSeed)).toBe(formed);
      expect(c!.theirs.members).toBeGreaterThanOrEqual(2);
      expect(a.exit?.code, s.context()).toBe(3);
      expect(
        a.logLines('cluster conflict:').some((l) => l.level === 'error'),
        `A yielded without its error line\n${s.context()}`,
      ).toBe(true);
      await s.lateJoinerJoins(formed, d);
    } finally {
      await s.close();
    }
  }, 120_000);

  const steps = ['before-decision', 'in-join', 'after-decision'] as const;
  let base = 160;
  for (const action of ['stop', 'kill'] as const) {
    for (const step of steps) {
      const at = (base += 10);
      it(`${action === 'stop' ? 'SIGSTOP past the ttl, then SIGCONT' : 'kill -9'} at ${step}`, () => runStepScenario(step, action, at), 120_000);
    }
  }
});

import { hostPort, type CliNode } from './cli-nodes.js';

/*
 * The fault suite's invariant (issue 9), for CLI nodes: once the faults heal, exactly one cluster
 * remains. Every node either stands (alive, decided, in that cluster, and its endpoint says so) or
 * yielded (printed {"conflict":…} naming the survivor, exit 3). Later joiners join the survivor and
 * name none of the nodes that yielded.
 */

export interface Verdict {
  survivor: string | undefined;
  standing: CliNode[];
  yielded: CliNode[];
  problems: string[];
}

export async function judge(nodes: readonly CliNode[], lateJoiners: readonly CliNode[] = []): Promise<Verdict> {
  const problems: string[] = [];
  const yielded = nodes.filter((n) => n.conflict !== undefined);
  const standing = nodes.filter((n) => n.conflict === undefined);
  for (const n of standing) {
    if (!n.alive) problems.push(`${n.name} exited ${JSON.stringify(n.exit)} without a conflict line`);
    else if (!n.result) problems.push(`${n.name} is alive but has not decided`);
  }
  const firstSeeds = [...new Set(standing.map((n) => n.firstSeed).filter((s): s is string => s !== undefined))];
  if (firstSeeds.length !== 1) problems.push(`standing nodes name ${firstSeeds.length} first seeds: [${firstSeeds.join(', ')}]`);
  const survivor = firstSeeds.length === 1 ? firstSeeds[0] : undefined;
  for (const n of yielded) {
    const c = n.conflict!;
    if (!c.yielding) problems.push(`${n.name} printed a conflict with yielding=false`);
    if (survivor && hostPort(c.theirs.firstSeed) !== survivor) problems.push(`${n.name} yielded to ${hostPort(c.theirs.firstSeed)}, not to ${survivor}`);
    if (!n.logLines('error').some((l) => l.includes('cluster conflict:'))) problems.push(`${n.name} yielded without logging "cluster conflict:" at error`);
    if (n.alive) problems.push(`${n.name} yielded but has not exited yet`);
    else if (n.exit!.code !== 3) problems.push(`${n.name} yielded but exited ${JSON.stringify(n.exit)}, not 3`);
  }
  // The endpoints of the standing nodes must agree with what they printed (nobody re-decided silently).
  for (const n of standing.filter((x) => x.alive && x.result)) {
    const answer = await n.probe();
    const live = answer?.seedNodes[0] && hostPort(answer.seedNodes[0]);
    if (live !== n.firstSeed) problems.push(`${n.name}'s endpoint names first seed ${live ?? '(no answer)'}, it printed ${n.firstSeed}`);
  }
  const gone = new Set(yielded.map((n) => n.result && hostPort(n.result.self)));
  for (const n of lateJoiners) {
    if (!standing.includes(n) || !n.result) problems.push(`late joiner ${n.name} did not decide or yielded`);
    else if (n.result.formedNewCluster) problems.push(`late joiner ${n.name} formed a new cluster`);
    else if (n.firstSeed !== survivor) problems.push(`late joiner ${n.name} joined ${n.firstSeed}, not the survivor ${survivor}`);
    else if (n.result.seeds.some((s) => gone.has(hostPort(s))))
      problems.push(`late joiner ${n.name} was given a node that yielded: ${n.result.seeds.map(hostPort).join(', ')}`);
  }
  return { survivor, standing, yielded, problems };
}

/**
 * Waits until `judge` finds no problem, at most `timeoutMs`; returns how long it took. The failure
 * lists the problems still open, then `describe()` (the nodes' output).
 */
export async function untilOneCluster(
  nodes: readonly CliNode[],
  timeoutMs: number,
  describe: () => string,
  lateJoiners: readonly CliNode[] = [],
): Promise<{ ms: number; verdict: Verdict }> {
  const started = Date.now();
  for (;;) {
    const verdict = await judge(nodes, lateJoiners);
    if (verdict.problems.length === 0) return { ms: Date.now() - started, verdict };
    if (Date.now() - started > timeoutMs) {
      throw new Error(`not one cluster within ${timeoutMs} ms:\n- ${verdict.problems.join('\n- ')}\n${describe()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { assertOneCluster, FaultFleet, waitUntil, type FaultAction, type FaultNode, type FaultStep } from './harness/fleet.js';

/*
 * lowest-address fault scenarios on the file provider (real fault-node processes, one shared temp
 * directory per scenario, nodes on their own 127.0.0.x addresses). Used by lowest-file.test.ts.
 *
 * Every scenario has four nodes on consecutive addresses: D (lowest, started last: the late joiner),
 * A (the lowest of the first three, so the would-be founder), B, C. The invariant after the heal, in
 * every scenario: exactly one cluster remains (assertOneCluster: one first seed among the standing
 * nodes, every node that decided otherwise yielded to it with a conflict event and exit 3, nobody
 * failed or stayed undecided), B and C never yield, and D joins the survivor.
 */

export const TTL_MS = 3000;

/** Short intervals so a scenario is quick; generous timeouts so a loaded 2-core machine passes. */
export const SETTINGS = {
  expectedContactPoints: 3,
  discoveryIntervalMs: 200,
  probeIntervalMs: 200,
  probeTimeoutMs: 1000,
  probeFailureWindowMs: 2000,
  stableMarginMs: 1000,
  bootstrapTimeoutMs: 90_000,
};

/** Time bounds (ms), stated once: every wait of a scenario uses one of these. */
export const BOUND = {
  /** A node process reaches its fault step (or decides) after it starts. */
  step: 20_000,
  /** A stopped or killed node's entry stops being discovered: stale after TTL_MS, plus slack. */
  expiry: 3 * TTL_MS + 10_000,
  /** B and C decide after A's fault. */
  form: 30_000,
  /** After the resume: every node has decided or yielded, and yielding nodes have exited. */
  settle: 30_000,
  /** The late joiner decides after it starts. */
  join: 30_000,
};

/** One lowest-address scenario: its own fleet, discovery directory and addresses 127.0.0.<base>…<base+3>. */
export class LowestScenario {
  readonly fleet: FaultFleet;
  /** The file provider's shared directory (inside the fleet's temp dir, removed by close()). */
  readonly directory: string;
  readonly discovery: Record<string, unknown>;
  readonly service = 'faults-lowest';

  constructor(
    readonly name: string,
    readonly base: number,
  ) {
    this.fleet = new FaultFleet(`clusterseed-faults-lowest-${base}-`);
    this.directory = path.join(this.fleet.dir, 'registry');
    this.discovery = { method: 'file', directory: this.directory, ttlMs: TTL_MS };
  }

  host(node: 'D' | 'A' | 'B' | 'C'): string {
    return `127.0.0.${this.base + 'DABC'.indexOf(node)}`;
  }

  start(
    node: 'D' | 'A' | 'B' | 'C',
    options: { bootstrap?: Record<string, unknown>; fault?: { at: FaultStep; action: FaultAction } } = {},
  ): Promise<FaultNode> {
    const host = this.host(node);
    const config = {
      service: this.service,
      discovery: this.discovery,
      bootstrap: { ...SETTINGS, ...options.bootstrap },
      management: { host, port: 0 },
      self: { host },
    };
    return this.fleet.start(node, { config, ...(options.fault ? { fault: options.fault } : {}) });
  }

  context = (): string => `scenario ${this.name} (127.0.0.${this.base}+)\n${this.fleet.describe()}`;

  /**
   * Whether a reader of the directory would find `n` now: its entry file exists, is fresher than the
   * ttl and its process lives. Read directly from the file (providers/file: <dir>/<service>/nodes/<host:port>.json)
   * rather than through the provider under test, so a provider that kept stale entries would make
   * B and C wait, not this check pass.
   */
  async registered(n: FaultNode): Promise<boolean> {
    if (n.self === undefined) return false;
    const file = path.join(this.directory, this.service, 'nodes', `${encodeURIComponent(n.self)}.json`);
    const entry = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as { updatedAt: number; pid?: number },
      () => undefined,
    );
    return entry !== undefined && Date.now() - entry.updatedAt <= TTL_MS && n.alive;
  }

  /** Until `n`'s entry is no longer discovered (stale past the ttl, or its process is gone). */
  waitUnregistered(n: FaultNode): Promise<void> {
    return waitUntil(async () => !(await this.registered(n)), BOUND.expiry, `${n.name}'s entry to stop being discovered`, this.context);
  }

  /** B and C decide within BOUND.form and agree; returns their first seed. */
  async othersFormed(others: FaultNode[]): Promise<string> {
    await this.fleet.waitFor(() => others.every((n) => n.result !== undefined || !n.alive), BOUND.form, 'B and C to decide');
    return assertOneCluster(others, { describe: this.context });
  }

  /**
   * Within BOUND.settle: the one-cluster invariant holds with `survivor`, and every yielding node has
   * exited. Throws the invariant's last complaint otherwise.
   */
  async settle(survivor: string): Promise<void> {
    let last: unknown;
    try {
      await waitUntil(
        () => {
          try {
            assertOneCluster(this.fleet.nodes, { survivor, describe: () => '' });
            return this.fleet.nodes.every((n) => n.conflict === undefined || !n.alive);
          } catch (err) {
            last = err;
            return false;
          }
        },
        BOUND.settle,
        'one cluster after the heal',
      );
    } catch {
      throw new Error(
        `not one cluster ${BOUND.settle} ms after the heal: ${(last as Error | undefined)?.message ?? 'a yielding node did not exit'}\n${this.context()}`,
      );
    }
  }

  /** The late joiner D: started now, it must decide within BOUND.join and join `survivor`. */
  async lateJoinerJoins(survivor: string, d?: FaultNode): Promise<void> {
    const joiner = d ?? (await this.start('D'));
    await joiner.waitFor((n) => n.result !== undefined || !n.alive, BOUND.join, 'decide (late joiner)');
    assertOneCluster(this.fleet.nodes, { lateJoiners: [joiner], survivor, describe: this.context });
    for (const n of this.fleet.nodes) {
      if ((n.name === 'B' || n.name === 'C') && n.conflict) throw new Error(`${n.name} yielded: the 2-member cluster must survive\n${this.context()}`);
    }
  }

  async close(): Promise<void> {
    await this.fleet.cleanup();
  }
}

/**
 * The step matrix: A, B, C start together; A (the lowest, so the founder) stops or dies at `step`.
 * B and C must form without it once its entry is gone. A stopped node is resumed only after its entry
 * went stale and B and C decided (a pause past the ttl); it must then join their cluster or yield to
 * it. D starts after the heal and must join the survivor.
 *   before-decision: A stops right after its endpoint is up, before it registers (B and C never see it).
 *   in-join: A decided to form (self-join) and stops inside the app's join(): nobody has seen its answer.
 *   after-decision: A has formed (bootstrap decided) and stops.
 */
export async function runStepScenario(step: Exclude<FaultStep, 'before-lock' | 'holding-lock'>, action: FaultAction, base: number): Promise<void> {
  const s = new LowestScenario(`${action} at ${step}`, base);
  try {
    const [a, ...others] = await Promise.all([s.start('A', { fault: { at: step, action } }), s.start('B'), s.start('C')]);
    await a!.waitFor((n) => n.stepReached(step) && (action === 'kill' ? !n.alive : n.isStopped()), BOUND.step, `reach ${step}`);
    await s.waitUnregistered(a!);
    const formed = await s.othersFormed(others);
    if (action === 'stop') a!.resume();
    await s.settle(formed);
    await s.lateJoinerJoins(formed);
  } finally {
    await s.close();
  }
}

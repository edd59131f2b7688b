import { randomBytes } from 'node:crypto';
import { assertOneCluster, clusterOf, FaultFleet, waitUntil, type FaultAction, type FaultNode, type FaultStep } from './fleet.js';
import { openRegistryView } from './registry.js';

/*
 * The lock-strategy fault scenario (reproduction 1 of issue 9, generalised):
 *   A takes part in the election and stops (SIGSTOP) or dies (SIGKILL) at `step`; B, C, D start and form
 *   a cluster while A is gone; A's lease/session expires; A resumes; then a late node E starts.
 * Invariant after the heal: exactly one cluster remains — every live node that did not yield names the
 * first seed B, C, D formed under (nobody wrote over their record, so none of them ever yields); A
 * joined it or yielded with a conflict event and exit 3; E joins it; the registry's first-seed names it
 * and lists every standing node as a member.
 * Time bounds (generous, a loaded 2-core machine): A reaches its step within 20 s; A's registration
 * expires within 3 × lease + 10 s; B, C, D decide within 30 s of starting; every node decides or yields
 * within 30 s of A's resume; E decides within 30 s; the record lists the members within 20 s.
 */

export interface LockBackend {
  name: string;
  /** The discovery block of every node (short TTLs). */
  discovery(): Record<string, unknown>;
  /** How long a stopped node's registration and lock outlive it (its lease/session/TTL), in ms. */
  leaseMs: number;
}

export interface LockScenario {
  /** A name for reports (the reproductions) [the step and action]. */
  label?: string;
  step: Exclude<FaultStep, 'before-decision'>;
  action: FaultAction;
  /**
   * When B, C, D start: right after A stopped ('at-pause'; they wait on A's lock, or find A's record
   * while A is still registered), or once A's registration expired ('after-expiry'; they find A's
   * record stale and must run a new election). Default: at-pause before A can have written anything
   * (before-lock, holding-lock), after-expiry from the moment it may have (in-join, after-decision).
   */
  othersStart?: 'at-pause' | 'after-expiry';
  /** Keep A stopped at least this long (the reproductions freeze A for a fixed time) [0]. */
  minPauseMs?: number;
  /** Start B, C, D this long after A stopped (with at-pause) [0]. */
  othersDelayMs?: number;
  /** Overrides of the backend's discovery block (e.g. the reproductions' TTLs), and the lease they give. */
  discovery?: Record<string, unknown>;
  leaseMs?: number;
}

const SETTLE_MS = 30_000;

const STEPS = ['before-lock', 'holding-lock', 'in-join', 'after-decision'] as const;
/** Every step of the lock protocol, paused past the lease and killed: the matrix each backend runs. */
export const LOCK_FAULT_MATRIX: readonly LockScenario[] = [
  ...STEPS.map((step) => ({ step, action: 'stop' as const })),
  ...STEPS.map((step) => ({ step, action: 'kill' as const })),
];

export function scenarioName(s: LockScenario): string {
  if (s.label !== undefined) return s.label;
  return `${s.action === 'stop' ? 'SIGSTOP past the lease' : 'kill -9'} at ${s.step}`;
}

export async function runLockScenario(backend: LockBackend, scenario: LockScenario): Promise<void> {
  const service = `faults-${scenario.step}-${scenario.action}-${randomBytes(3).toString('hex')}`;
  const discovery = { ...backend.discovery(), ...scenario.discovery };
  const othersStart = scenario.othersStart ?? (scenario.step === 'before-lock' || scenario.step === 'holding-lock' ? 'at-pause' : 'after-expiry');
  const fleet = new FaultFleet(`clusterseed-faults-${backend.name}-`);
  const registry = await openRegistryView(discovery);
  const config = {
    service,
    discovery,
    bootstrap: { strategy: 'lock', bootstrapTimeoutMs: 120_000 },
    management: { host: '127.0.0.1', port: 0 },
    self: { host: '127.0.0.1' },
  };
  const context = () => `${backend.name} / ${scenarioName(scenario)} (service ${service})\n${fleet.describe()}`;
  try {
    const a = await fleet.start('A', { config, fault: { at: scenario.step, action: scenario.action } });
    await a.waitFor((n) => n.stepReached(scenario.step) && (scenario.action === 'kill' ? !n.alive : n.isStopped()), 20_000, `reach ${scenario.step}`);
    const pausedAt = Date.now();
    if (a.self === undefined) throw new Error(`A stopped before it logged its address\n${context()}`);
    const aExpired = async () => !(await registry.registered(service)).includes(a.self!);
    const waitForExpiry = () => waitUntil(aExpired, 3 * (scenario.leaseMs ?? backend.leaseMs) + 10_000, `A's registration to expire`, context);

    if (othersStart === 'after-expiry') await waitForExpiry();
    else if (scenario.othersDelayMs) await new Promise((r) => setTimeout(r, scenario.othersDelayMs));
    const others = await Promise.all(['B', 'C', 'D'].map((name) => fleet.start(name, { config })));
    await fleet.waitFor(() => others.every((n) => n.result !== undefined || !n.alive), 30_000, 'B, C, D to decide');
    const formed = assertOneCluster(others, { describe: context });

    await waitForExpiry();
    const stillPaused = (scenario.minPauseMs ?? 0) - (Date.now() - pausedAt);
    if (stillPaused > 0) await new Promise((r) => setTimeout(r, stillPaused));
    if (scenario.action === 'stop') a.resume();

    // Every node decides or yields (and a yielding node exits 3) within SETTLE_MS of the resume.
    const resumedAt = Date.now();
    await settle(formed, [a, ...others], context);
    const settledMs = Date.now() - resumedAt;
    for (const n of others) if (n.conflict) throw new Error(`${n.name} yielded: someone wrote over the record of the cluster B, C, D formed\n${context()}`);

    const e = await fleet.start('E', { config });
    await e.waitFor((n) => n.result !== undefined || !n.alive, 30_000, 'decide (late joiner)');
    assertOneCluster(fleet.nodes, { lateJoiners: [e], survivor: formed, describe: context });

    const record = await registry.record(service);
    // A repair may have moved first-seed to a live member of the same cluster; never to another cluster.
    if (record.firstSeed === undefined || clusterOf(fleet.nodes, record.firstSeed) !== formed) {
      throw new Error(`the registry's first-seed is ${record.firstSeed}, not (a member of) the survivor ${formed}\n${context()}`);
    }
    const standing = fleet.nodes.filter((n) => n.alive && n.conflict === undefined).map((n) => n.self!);
    await waitUntil(
      async () => {
        const m = (await registry.record(service)).members;
        return standing.every((s) => m.includes(s));
      },
      20_000,
      `the record to list every standing node (${standing.join(', ')}) as a member`,
      () => `${context()}\nrecord: ${JSON.stringify(record)}`,
    );
    // FAULTS_REPORT=1 prints how each scenario ended (for docs/faults.md figures), =trace the nodes' logs too.
    if (process.env.FAULTS_REPORT) {
      const aEnd = a.killed ? 'killed' : a.conflict ? `yielded (exit ${a.exit?.code})` : `joined ${a.firstSeed}`;
      console.log(
        `[faults] ${backend.name} / ${scenarioName(scenario)}: survivor ${formed}, A ${aEnd}, ` +
          `one cluster ${settledMs} ms after the heal, E joined ${e.firstSeed}`,
      );
      if (process.env.FAULTS_REPORT === 'trace') console.log(context());
    }
  } finally {
    await fleet.cleanup();
    await registry.close();
  }
}

/** Waits until assertOneCluster holds with `survivor` and every yielding node has exited; else throws its last complaint. */
async function settle(survivor: string, nodes: FaultNode[], context: () => string): Promise<void> {
  let last: unknown;
  try {
    await waitUntil(
      () => {
        try {
          assertOneCluster(nodes, { survivor, describe: () => '' });
          return nodes.every((n) => n.conflict === undefined || !n.alive);
        } catch (err) {
          last = err;
          return false;
        }
      },
      SETTLE_MS,
      'every node to decide or yield after the resume',
    );
  } catch {
    throw new Error(
      `not one cluster ${SETTLE_MS} ms after the resume: ${(last as Error | undefined)?.message ?? 'a yielding node did not exit'}\n${context()}`,
    );
  }
}

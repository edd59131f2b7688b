import type { Partition, Scenario } from './scenario.js';

/** A fault with its times fixed (at scenario start for timed ones, when the step comes for the others). */
export type ActivePartition = Partition & { from: number; healAt: number };

/**
 * What the registry holds and what each node can reach, as functions of virtual time (the fault model
 * of the simulation; see README in this folder):
 * - an entry exists while its node runs and renews it; it expires ttlMs after the node stops renewing
 *   (killed, frozen longer than the ttl, cut off from the registry) and comes back when renewal
 *   resumes (resume, heal, restart); a node that yields deregisters at once;
 * - observer i sees a change of j's entry lagIn[i][j] (appearing) or propOut[i][j] (disappearing) late;
 * - a discovery split hides the other side from i's lookups; a registry cut makes i's lookups fail;
 * - a probe cut drops probes between two nodes (they hang until the prober's timeout).
 */
export class SimNetwork {
  readonly #sc: Scenario;
  /** Per node: when it (re)started running and registered, and when it yielded and deregistered. */
  readonly #starts: number[][];
  readonly #yields: number[][];
  /** Per node: when it was frozen and resumed. */
  readonly #freezes: { at: number; until: number }[][];
  readonly #partitions: ActivePartition[] = [];

  constructor(sc: Scenario) {
    this.#sc = sc;
    this.#starts = sc.nodes.map(() => []);
    this.#yields = sc.nodes.map(() => []);
    this.#freezes = sc.nodes.map(() => []);
  }

  get partitions(): readonly ActivePartition[] {
    return this.#partitions;
  }

  partition(p: Partition, from: number): ActivePartition {
    const active: ActivePartition = { ...p, from, healAt: from + p.durationMs };
    this.#partitions.push(active);
    return active;
  }

  froze(j: number, at: number, until: number): void {
    this.#freezes[j]!.push({ at, until });
  }

  /** j's process (re)starts at `at` and registers. */
  started(j: number, at: number): void {
    this.#starts[j]!.push(at);
  }

  /** j yields at `at`: it deregisters (gracefully, at once) until it restarts. */
  yielded(j: number, at: number): void {
    this.#yields[j]!.push(at);
  }

  /** Whether the registry holds an entry for j at time t. */
  registered(j: number, t: number): boolean {
    const starts = this.#starts[j]!,
      yields = this.#yields[j]!;
    // The incarnation running at t: the last start at or before t, and no yield between it and t.
    let start = -1;
    for (const s of starts) if (s <= t) start = s;
    if (start < 0) return false;
    for (const y of yields) if (y >= start && y <= t) return false;
    const spec = this.#sc.nodes[j]!;
    const ttl = this.#sc.ttlMs;
    if (spec.crashAt !== undefined && t >= spec.crashAt + ttl) return false;
    // A frozen process renews nothing: its entry lapses ttl after the pause began, until it resumes.
    for (const f of this.#freezes[j]!) if (f.at >= start && t >= f.at + ttl && t < f.until) return false;
    for (const p of this.#partitions) {
      if (p.kind === 'registry' && p.cutOff.includes(j) && t >= p.from + ttl && t < p.healAt) return false;
    }
    return true;
  }

  /** Whether i's lookup at time t returns j (i ≠ j). */
  visible(i: number, j: number, t: number): boolean {
    const sc = this.#sc;
    if (!this.registered(j, t - sc.lagIn[i]![j]!) || !this.registered(j, t - sc.propOut[i]![j]!)) return false;
    for (const p of this.#partitions) {
      if (p.kind !== 'split' || !p.discovery || p.sideA[i] === p.sideA[j] || p.sideA[i] === undefined || p.sideA[j] === undefined) continue;
      if (t >= p.from + sc.propOut[i]![j]! && t < p.healAt + sc.lagIn[i]![j]!) return false;
    }
    return true;
  }

  /** i cannot reach the registry at time t: its lookups fail. */
  lookupCut(i: number, t: number): boolean {
    return this.#partitions.some((p) => p.kind === 'registry' && p.cutOff.includes(i) && t >= p.from && t < p.healAt);
  }

  /** Probes between i and j are dropped at time t. */
  probeCut(i: number, j: number, t: number): boolean {
    for (const p of this.#partitions) {
      if (t < p.from || t >= p.healAt) continue;
      if (p.kind === 'split' && p.probes && p.sideA[i] !== undefined && p.sideA[j] !== undefined && p.sideA[i] !== p.sideA[j]) return true;
      if (p.kind === 'pairs' && p.pairs.some(([a, b]) => (a === i && b === j) || (a === j && b === i))) return true;
    }
    return false;
  }
}

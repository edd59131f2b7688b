import { formatHostPort } from '../../src/address.js';
import type { ClusterConflict } from '../../src/bootstrap/conflict.js';
import { Coordinator, type CoordinatorDecision } from '../../src/bootstrap/coordinator.js';
import type { PollAnswer, ProbeTransport } from '../../src/bootstrap/prober.js';
import { answerTag, type SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { DiscoveryError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';
import { checkInvariants, healedSplit, settleBounds, type HealSnapshot } from './invariants.js';
import { SimNetwork, type ActivePartition } from './network.js';
import { makeScenario, mulberry32, type Partition } from './scenario.js';
import { SimClock, type NodeClock } from './sim-clock.js';

const PORT = 7626;

/** One run of a node's process: a restart after yielding is a new incarnation with fresh state. */
export interface Incarnation {
  startedAt: number;
  clock: NodeClock;
  coordinator: Coordinator;
  /** Host of the first seed passed to join(), once called; selfJoined when that was [self]. */
  joinedFirstSeed?: string;
  selfJoined: boolean;
  decision?: CoordinatorDecision;
  yieldedAt?: number;
  /** Killed (kill -9) while this incarnation ran. */
  crashed: boolean;
}

export interface SimNode {
  index: number;
  point: ContactPoint;
  incarnations: Incarnation[];
  /** The running incarnation (undefined before start, after a crash, and between a yield and the restart). */
  current?: Incarnation;
  crashed: boolean;
  /** Previous lookup's omitted entries: an omission never lasts two lookups in a row. */
  lastOmitted: Set<number>;
  lastLookupFailed: boolean;
  lastViewKey: string;
  lastViewChangeAt: number;
}

export interface SimOutcome {
  seed: number;
  ok: boolean;
  failure?: string;
  trace: string[];
  virtualMs: number;
  nodes: number;
  /** Nodes that yielded (over all incarnations) and when one cluster was reached after calmAt. */
  yields: number;
  settledAfterCalmMs?: number;
  /** The bound the scenario states for settledAfterCalmMs. */
  settleBoundMs: number;
  /** A split healed between decided clusters: the larger had to survive (checked). */
  healedSplit: boolean;
}

export interface RunOptions {
  trace?: boolean;
  /** The negative control: coordinators without DESIGN §5.5 (no conflict checks, lowest-first-seed rule, requiredContactPoints 2 by default). */
  legacy?: boolean;
}

/**
 * Runs one scenario: every node is a real Coordinator (the decider, loops and conflict checks that
 * production runs) on one SimClock, each behind a NodeClock that can freeze it; discovery and probes
 * are scripted from the scenario (SimNetwork), with lags, omissions, failures, hangs, crashes,
 * pauses, partitions, lease loss and restarts after yielding. Then checks the invariants.
 */
export async function runScenario(seed: number, options: RunOptions = {}): Promise<SimOutcome> {
  const sc = makeScenario(seed);
  if (options.legacy && sc.quorumDefault && sc.settings.expectedContactPoints !== undefined) sc.settings.requiredContactPoints = 2;
  const clock = new SimClock(10);
  const net = new SimNetwork(sc);
  const random = mulberry32(seed ^ 0x5eed);
  const trace: string[] = [];
  const log = (msg: string) => {
    if (options.trace) trace.push(`${String(clock.now()).padStart(7)} ${msg}`);
  };
  const nodes: SimNode[] = sc.nodes.map((spec, index) => ({
    index,
    point: { host: spec.host, port: PORT },
    incarnations: [],
    crashed: false,
    lastOmitted: new Set(),
    lastLookupFailed: false,
    lastViewKey: '',
    lastViewChangeAt: 0,
  }));
  const name = (i: number) => `${sc.nodes[i]!.name}(${sc.nodes[i]!.host})`;
  let pendingRestarts = 0;
  let yields = 0;
  const heals: (HealSnapshot & { of: ActivePartition })[] = [];
  const healOnDecided: ActivePartition[] = [];
  // Faults whose time comes from a step: fired (or void after triggerDeadline) as the run goes.
  const pendingTriggers = new Set<object>();
  for (const spec of sc.nodes) if (spec.freeze && spec.freeze.step !== 'time') pendingTriggers.add(spec.freeze);
  // The calm phase starts when the last fault ends: the fixed ones, the pauses and the partitions so far.
  let freezesEnd = 0;
  const calm = () => Math.max(sc.fixedCalmAt, freezesEnd, ...net.partitions.map((p) => p.healAt));
  const faultsPending = () => pendingTriggers.size > 0 && clock.now() <= sc.triggerDeadline;
  const calmKnown = () => !faultsPending() && clock.now() >= calm();

  if (options.trace) {
    const { nodes: specs, lagIn: _l, propOut: _p, ...rest } = sc;
    trace.push(`seed ${seed}${options.legacy ? ' (LEGACY RULES: negative control)' : ''}: ${JSON.stringify(rest)}`);
    for (const s of specs) {
      const freeze = s.freeze
        ? ` freeze ${s.freeze.step === 'time' ? `at ${s.freeze.at}` : `${s.freeze.at} ms after '${s.freeze.step}'`} for ${s.freeze.ms} ms`
        : '';
      trace.push(
        `  ${s.name} ${s.host} ${s.lateByMs !== undefined ? `late: starts ${s.lateByMs} ms after calm` : `start ${s.startAt}`}` +
          `${s.crashAt !== undefined ? ` crash ${s.crashAt}` : ''}${freeze}`,
      );
    }
  }

  const discover = (i: number, nodeClock: NodeClock) => (): Promise<ContactPoint[]> =>
    new Promise((resolve, reject) => {
      const latency = 1 + Math.floor(random() * 30);
      // The registry answers at once; the answer reaches the node through its clock (late if frozen).
      clock.setTimeout(() => {
        const now = clock.now();
        const node = nodes[i]!;
        const faulty = now < sc.convergeAt;
        if (net.lookupCut(i, now) || (faulty && !node.lastLookupFailed && random() < sc.faults.lookupFail)) {
          node.lastLookupFailed = true;
          log(`${name(i)} lookup fails`);
          nodeClock.setTimeout(() => reject(new DiscoveryError('scripted lookup failure')), 0);
          return;
        }
        node.lastLookupFailed = false;
        const omitted = new Set<number>();
        const points: ContactPoint[] = [];
        for (let j = 0; j < nodes.length; j++) {
          if (j === i ? !net.registered(i, now) : !net.visible(i, j, now)) continue;
          if (faulty && j !== i && !node.lastOmitted.has(j) && random() < sc.faults.omit) {
            omitted.add(j);
            continue;
          }
          points.push(nodes[j]!.point);
        }
        node.lastOmitted = omitted;
        // Shuffled: the coordinator must not depend on the provider's order.
        for (let k = points.length - 1; k > 0; k--) {
          const m = Math.floor(random() * (k + 1));
          [points[k], points[m]] = [points[m]!, points[k]!];
        }
        const key = points
          .map((p) => p.host)
          .sort()
          .join(',');
        if (key !== node.lastViewKey) {
          node.lastViewKey = key;
          node.lastViewChangeAt = now;
          log(`${name(i)} view [${key}]`);
        }
        nodeClock.setTimeout(() => resolve(points), 0);
      }, latency);
    });

  const byHost = new Map(nodes.map((n) => [n.point.host, n]));
  /**
   * One exchange with a peer, under the scenario's faults: `answer(there, send)` runs on arrival when
   * the peer can answer; `send(state, heldMs)` delivers on the prober's clock (a frozen prober
   * handles it late, as a paused process does).
   */
  const exchange = <T>(
    i: number,
    nodeClock: NodeClock,
    target: ContactPoint,
    signal: AbortSignal,
    answer: (there: Incarnation, send: (value: T) => void) => void,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      const peer = byHost.get(target.host);
      const now = clock.now();
      const faulty = now < sc.convergeAt;
      const half = 1 + Math.floor(random() * 20);
      if (!peer) return void nodeClock.setTimeout(() => reject(new DiscoveryError(`probe of ${target.host}: ECONNREFUSED`)), 1);
      if (net.probeCut(i, peer.index, now)) return; // dropped by the partition: only the prober's timeout ends it
      if (!peer.current) {
        if (peer.crashed) return; // a killed host answers nothing
        return void nodeClock.setTimeout(() => reject(new DiscoveryError(`probe of ${target.host}: ECONNREFUSED`)), 1);
      }
      if (faulty && random() < sc.faults.probeHang) return;
      if (faulty && random() < sc.faults.probeFail)
        return void nodeClock.setTimeout(() => reject(new DiscoveryError(`probe of ${target.host}: ECONNRESET`)), half);
      clock.setTimeout(() => {
        const there = peer.current;
        // A frozen, killed or restarting peer answers nothing; a cut may have come meanwhile.
        if (!there || there.clock.frozen || net.probeCut(i, peer.index, clock.now())) return;
        answer(there, (value) => {
          // The answer travels back: a cut, a kill or a restart since then drops it.
          if (peer.current !== there || net.probeCut(i, peer.index, clock.now())) return;
          nodeClock.setTimeout(() => resolve(value), half);
        });
      }, half);
    });

  /**
   * The long poll as the endpoint holds it (src/bootstrap/long-poll.ts): until the peer's answer tag
   * changes or waitMs pass on the peer's clock (a frozen peer answers nothing until it resumes).
   */
  const poll =
    (i: number, nodeClock: NodeClock) =>
    (target: ContactPoint, { signal, etag, waitMs }: { signal: AbortSignal; etag: string | undefined; waitMs: number }) =>
      exchange<PollAnswer>(i, nodeClock, target, signal, (there, send) => {
        const since = there.clock.now();
        const reply = (state: SeedNodesResponse) => send({ response: state, etag: answerTag(state), heldMs: there.clock.now() - since });
        void there.coordinator.report().then((state) => {
          if (etag === undefined || waitMs === 0 || answerTag(state) !== etag) return reply(state);
          let done = false;
          const finish = (answer: boolean) => {
            if (done) return;
            done = true;
            unsubscribe();
            timer.cancel();
            if (answer && !there.clock.frozen) void there.coordinator.report().then(reply);
          };
          const unsubscribe = there.coordinator.onReportChange(() => {
            void there.coordinator.report().then((s) => answerTag(s) !== etag && finish(true));
          });
          const timer = there.clock.setTimeout(() => finish(true), waitMs);
          signal.addEventListener('abort', () => finish(false), { once: true });
        });
      });

  // Every third node probes like a version without the long poll (a rolling upgrade): both kinds meet.
  const transport = (i: number, nodeClock: NodeClock): ProbeTransport => ({
    close: async () => {},
    probe: (target, { signal }) => exchange<SeedNodesResponse>(i, nodeClock, target, signal, (there, send) => void there.coordinator.report().then(send)),
    // The negative control runs the code before DESIGN §5.5 as it was: probes on the interval only.
    ...(i % 3 === 2 || options.legacy ? {} : { poll: poll(i, nodeClock) }),
  });

  const start = (i: number) => {
    const node = nodes[i]!;
    if (node.crashed) return;
    const nodeClock = clock.node();
    const logger: Logger = options.trace
      ? {
          ...silentLogger,
          info: (o, m) => log(`${name(i)} ${m ?? ''} ${typeof o === 'object' ? JSON.stringify(o) : String(o)}`),
          error: (o, m) => log(`${name(i)} ERROR ${m ?? ''} ${JSON.stringify(o)}`),
        }
      : silentLogger;
    const inc: Incarnation = { startedAt: clock.now(), clock: nodeClock, selfJoined: false, crashed: false, coordinator: undefined as unknown as Coordinator };
    const inCluster = (x: Incarnation | undefined, firstSeed: string) => x !== undefined && x.yieldedAt === undefined && x.joinedFirstSeed === firstSeed;
    inc.coordinator = new Coordinator({
      self: node.point,
      settings: sc.settings,
      discover: discover(i, nodeClock),
      transport: transport(i, nodeClock),
      join: (seeds) =>
        new Promise((r) => {
          inc.joinedFirstSeed = seeds[0]!.host;
          inc.selfJoined = seeds.length === 1 && seeds[0]!.host === node.point.host;
          onStep(i, 'join');
          nodeClock.setTimeout(r, sc.nodes[i]!.joinMs);
        }),
      // The application's cluster layer: every running node that joined the same first seed (frozen ones too).
      members: sc.appMembers ? () => nodes.filter((n) => inCluster(n.current, inc.joinedFirstSeed!)).map((n) => n.point) : undefined,
      onConflict: (c) => onConflict(i, inc, c),
      clock: nodeClock,
      random,
      logger,
      ...(options.legacy ? { unsafeLegacyRules: true } : {}),
    });
    node.incarnations.push(inc);
    node.current = inc;
    net.started(i, clock.now());
    log(`${name(i)} starts${node.incarnations.length > 1 ? ` (incarnation ${node.incarnations.length})` : ''}`);
    inc.coordinator.run().then(
      (d) => {
        inc.decision = d;
        onStep(i, 'decided');
        log(`${name(i)} decided ${d.formedNewCluster ? 'SELF-JOIN' : 'join'} [${d.seeds.map((s) => formatHostPort(s)).join(', ')}]`);
      },
      (err: unknown) => log(`${name(i)} stopped: ${(err as Error).message}`),
    );
  };

  // The CLI's behaviour on yielding (exit 3 after deregistering), then its orchestrator's restart.
  const onConflict = (i: number, inc: Incarnation, c: ClusterConflict) => {
    log(
      `${name(i)} CONFLICT ours ${c.ours.firstSeed.host}(${c.ours.members}) ` +
        `theirs ${c.theirs.firstSeed.host}(${c.theirs.members}) ${c.yielding ? 'YIELDS' : 'survives'}`,
    );
    if (!c.yielding) return;
    const node = nodes[i]!;
    yields++;
    inc.yieldedAt = clock.now();
    inc.coordinator.stop();
    node.current = undefined;
    net.yielded(i, clock.now());
    pendingRestarts++;
    clock.setTimeout(() => {
      pendingRestarts--;
      start(i);
    }, sc.restartMs);
  };

  function activate(p: Partition, from: number): void {
    const active = net.partition(p, from);
    log(
      `PARTITION ${p.kind} from ${active.from} ` +
        `until ${p.healAfterDecidedMs !== undefined ? `${p.healAfterDecidedMs} ms after all decided, at the latest ` : ''}` +
        `${active.healAt}: ${JSON.stringify(p)}`,
    );
    if (p.healAfterDecidedMs !== undefined) healOnDecided.push(active);
    healAt(active, active.healAt);
  }
  function healAt(active: ActivePartition, at: number): void {
    active.healAt = at;
    clock.setTimeout(() => {
      if (active.healAt !== at || heals.some((h) => h.of === active)) return; // moved earlier, or done
      heals.push({ ...snapshot(), of: active });
      log(`HEAL of the ${active.kind}: ${JSON.stringify({ ...heals.at(-1), of: undefined })}`);
    }, at - clock.now());
  }
  // The clusters as they stand (running nodes, by first seed), and how many nodes are undecided or frozen.
  function snapshot(): HealSnapshot {
    const clusters: Record<string, number> = {};
    let undecided = 0;
    for (const n of nodes) {
      const inc = n.current;
      if (!inc || n.crashed) continue;
      if (!inc.decision || inc.clock.frozen) {
        undecided++;
        continue;
      }
      const f = inc.decision.seeds[0]!.host;
      clusters[f] = (clusters[f] ?? 0) + 1;
    }
    return { at: clock.now(), clusters, undecided };
  }
  function freeze(i: number): void {
    const { ms } = sc.nodes[i]!.freeze!;
    const frozen = nodes[i]!.current;
    if (!frozen) return;
    frozen.clock.freeze();
    net.froze(i, clock.now(), clock.now() + ms);
    freezesEnd = Math.max(freezesEnd, clock.now() + ms);
    log(`${name(i)} FREEZES for ${ms} ms`);
    clock.setTimeout(() => {
      if (frozen.crashed) return;
      frozen.clock.resume();
      log(`${name(i)} RESUMES`);
    }, ms);
  }
  // A step of node i's protocol: fires the faults waiting for it (once, and only before triggerDeadline).
  function onStep(i: number, step: 'join' | 'decided'): void {
    const now = clock.now();
    const f = sc.nodes[i]!.freeze;
    if (f && f.step === step && pendingTriggers.delete(f) && now <= sc.triggerDeadline) clock.setTimeout(() => freeze(i), f.at);
    if (
      step === 'decided' &&
      healOnDecided.length > 0 &&
      nodes.every(
        (n) =>
          n.crashed || (n.current !== undefined && n.current.decision !== undefined) || (n.current === undefined && sc.nodes[n.index]!.lateByMs !== undefined),
      )
    ) {
      for (const p of healOnDecided.splice(0)) if (now + p.healAfterDecidedMs! < p.healAt) healAt(p, now + p.healAfterDecidedMs!);
    }
    if (step !== 'join') return;
    for (const p of sc.partitions) if (p.trigger === 'first-join' && pendingTriggers.delete(p) && now <= sc.triggerDeadline) activate(p, now + p.at);
  }

  sc.nodes.forEach((spec, i) => {
    if (spec.lateByMs === undefined) clock.setTimeout(() => start(i), spec.startAt);
    if (spec.crashAt !== undefined) {
      clock.setTimeout(() => {
        const node = nodes[i]!;
        node.crashed = true;
        if (node.current) {
          node.current.crashed = true;
          node.current.coordinator.stop();
        }
        node.current = undefined;
        log(`${name(i)} CRASHES (kill -9)`);
      }, spec.crashAt);
    }
    if (spec.freeze?.step === 'time') clock.setTimeout(() => freeze(i), spec.freeze.at);
  });
  for (const p of sc.partitions) {
    if (p.trigger === 'time') activate(p, p.at);
    else pendingTriggers.add(p);
  }
  // Late joiners start once every fault has healed.
  const startLateJoiners = () => {
    if (!calmKnown()) return void clock.setTimeout(startLateJoiners, 250);
    sc.nodes.forEach((spec, i) => {
      if (spec.lateByMs !== undefined) clock.setTimeout(() => start(i), spec.lateByMs);
    });
  };
  if (sc.nodes.some((spec) => spec.lateByMs !== undefined)) startLateJoiners();

  const bounds = settleBounds(sc);
  const limit = () => (faultsPending() ? sc.triggerDeadline : calm()) + bounds.settleMs;
  let settledAt: number | undefined;
  const settled = () => {
    // All started, decided and in one cluster, nobody restarting: from here nothing can change (no
    // undecided node is left to form a cluster, and conflicts need two), whatever faults are to come.
    if (pendingRestarts > 0 || faultsPending()) return false;
    let first: string | undefined;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (n.crashed) continue;
      const d = n.current?.decision;
      if (!d) return false;
      const f = d.seeds[0]!.host;
      if (first !== undefined && f !== first) return false;
      first = f;
    }
    settledAt ??= clock.now();
    return true;
  };
  await clock.run(settled, limit);
  for (const n of nodes) n.current?.coordinator.stop();

  const calmAt = calm();
  const failure = checkInvariants({ sc, nodes, now: clock.now(), calmAt, limit: limit(), bounds, yields, heals });
  if (failure) log(`FAILED: ${failure}`);
  return {
    seed,
    ok: failure === undefined,
    ...(failure ? { failure } : {}),
    trace,
    virtualMs: clock.now(),
    nodes: nodes.length,
    yields,
    settleBoundMs: bounds.settleMs,
    healedSplit: healedSplit(sc, heals) !== undefined,
    ...(settledAt !== undefined ? { settledAfterCalmMs: settledAt - calmAt } : {}),
  };
}

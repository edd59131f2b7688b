import { formatHostPort } from '../../src/address.js';
import { Coordinator, type CoordinatorDecision } from '../../src/bootstrap/coordinator.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { DiscoveryError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';
import { makeScenario, mulberry32, type Scenario } from './scenario.js';
import { SimClock } from './sim-clock.js';

const PORT = 7626;

interface SimNode {
  index: number;
  point: ContactPoint;
  coordinator?: Coordinator;
  started: boolean;
  crashed: boolean;
  decision?: CoordinatorDecision;
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
}

/**
 * Runs one scenario: every node is a real Coordinator (the decider and loops that production runs)
 * on one SimClock; discovery and probes are scripted from the scenario, with lags, omissions,
 * failures, hangs and crashes. Then checks the invariants.
 */
export async function runScenario(seed: number, options: { trace?: boolean } = {}): Promise<SimOutcome> {
  const sc = makeScenario(seed);
  const clock = new SimClock(10);
  const random = mulberry32(seed ^ 0x5eed);
  const trace: string[] = [];
  const log = (msg: string) => { if (options.trace) trace.push(`${String(clock.now()).padStart(7)} ${msg}`); };
  const nodes: SimNode[] = sc.nodes.map((spec, index) => ({
    index, point: { host: spec.host, port: PORT }, started: false, crashed: false,
    lastOmitted: new Set(), lastLookupFailed: false, lastViewKey: '', lastViewChangeAt: 0,
  }));
  const name = (i: number) => `${sc.nodes[i]!.name}(${sc.nodes[i]!.host})`;
  const selfJoins: number[] = [];

  if (options.trace) {
    trace.push(`seed ${seed}: ${nodes.length} nodes, settings ${JSON.stringify(sc.settings)}, convergeAt ${sc.convergeAt}, faults ${JSON.stringify(sc.faults)}`);
    for (const s of sc.nodes) trace.push(`  ${s.name} ${s.host} start ${s.startAt}${s.crashAt !== undefined ? ` crash ${s.crashAt}` : ''}`);
  }

  const visibleTo = (i: number, j: number, now: number) => {
    const s = sc.nodes[j]!;
    if (!nodes[j]!.started && now < s.startAt) return false;
    if (now < s.startAt + sc.lagIn[i]![j]!) return false;
    return !(s.crashAt !== undefined && now >= s.crashAt + sc.lagOut[i]![j]!);
  };

  const discover = (i: number) => (): Promise<ContactPoint[]> =>
    new Promise((resolve, reject) => {
      const latency = 1 + Math.floor(random() * 30);
      clock.setTimeout(() => {
        const now = clock.now();
        const node = nodes[i]!;
        const faulty = now < sc.convergeAt;
        if (faulty && !node.lastLookupFailed && random() < sc.faults.lookupFail) {
          node.lastLookupFailed = true;
          log(`${name(i)} lookup fails`);
          return reject(new DiscoveryError('scripted lookup failure'));
        }
        node.lastLookupFailed = false;
        const omitted = new Set<number>();
        const points: ContactPoint[] = [];
        for (let j = 0; j < nodes.length; j++) {
          if (!visibleTo(i, j, now)) continue;
          if (faulty && j !== i && !node.lastOmitted.has(j) && random() < sc.faults.omit) { omitted.add(j); continue; }
          points.push(nodes[j]!.point);
        }
        node.lastOmitted = omitted;
        // Shuffled: the coordinator must not depend on the provider's order.
        for (let k = points.length - 1; k > 0; k--) { const m = Math.floor(random() * (k + 1)); [points[k], points[m]] = [points[m]!, points[k]!]; }
        const key = points.map((p) => p.host).sort().join(',');
        if (key !== node.lastViewKey) {
          node.lastViewKey = key;
          node.lastViewChangeAt = now;
          log(`${name(i)} view [${key}]`);
        }
        resolve(points);
      }, latency);
    });

  const byHost = new Map(nodes.map((n) => [n.point.host, n]));
  const transport = (i: number) => ({
    close: async () => {},
    probe: (target: ContactPoint, { signal }: { signal: AbortSignal }) =>
      new Promise<SeedNodesResponse>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        const peer = byHost.get(target.host);
        const now = clock.now();
        const faulty = now < sc.convergeAt;
        const half = 1 + Math.floor(random() * 20);
        if (!peer || !peer.started) {
          clock.setTimeout(() => reject(new DiscoveryError(`probe of ${target.host}: ECONNREFUSED`)), 1);
          return;
        }
        if (faulty && random() < sc.faults.probeHang) return; // only the prober's timeout ends it
        if (faulty && random() < sc.faults.probeFail) {
          clock.setTimeout(() => reject(new DiscoveryError(`probe of ${target.host}: ECONNRESET`)), half);
          return;
        }
        clock.setTimeout(() => {
          if (peer.crashed || !peer.coordinator) return; // a killed host answers nothing: timeout
          void peer.coordinator.report().then((state) => clock.setTimeout(() => resolve(state), half));
        }, half);
        void i;
      }),
  });

  const start = (i: number) => {
    const node = nodes[i]!;
    node.started = true;
    log(`${name(i)} starts`);
    const logger: Logger = options.trace
      ? { ...silentLogger, info: (o, m) => log(`${name(i)} ${m ?? ''} ${typeof o === 'object' ? JSON.stringify(o) : String(o)}`), error: (o, m) => log(`${name(i)} ERROR ${m ?? ''} ${JSON.stringify(o)}`) }
      : silentLogger;
    const coordinator = new Coordinator({
      self: node.point,
      settings: sc.settings,
      discover: discover(i),
      transport: transport(i),
      join: (seeds) => new Promise((r) => {
        if (seeds.length === 1 && seeds[0]!.host === node.point.host) selfJoins.push(i);
        clock.setTimeout(r, sc.nodes[i]!.joinMs);
      }),
      clock,
      random,
      logger,
    });
    node.coordinator = coordinator;
    coordinator.run().then(
      (d) => {
        if (node.crashed) return;
        node.decision = d;
        log(`${name(i)} decided ${d.formedNewCluster ? 'SELF-JOIN' : 'join'} [${d.seeds.map((s) => formatHostPort(s)).join(', ')}]`);
      },
      (err: unknown) => log(`${name(i)} stopped: ${(err as Error).message}`),
    );
  };

  sc.nodes.forEach((spec, i) => {
    clock.setTimeout(() => start(i), spec.startAt);
    if (spec.crashAt !== undefined) {
      clock.setTimeout(() => {
        const node = nodes[i]!;
        node.crashed = true;
        node.coordinator?.stop();
        log(`${name(i)} CRASHES (kill -9)`);
      }, spec.crashAt);
    }
  });

  const survivors = nodes.filter((_, i) => sc.nodes[i]!.crashAt === undefined);
  const lastEvent = Math.max(...sc.nodes.map((s) => Math.max(s.startAt, s.crashAt ?? 0)), sc.convergeAt);
  const limit = lastEvent + 40_000;
  await clock.run(() => survivors.every((n) => n.decision !== undefined), limit);
  for (const n of nodes) n.coordinator?.stop();

  const failure = checkInvariants(sc, nodes, survivors, selfJoins, clock.now(), limit);
  if (failure) log(`FAILED: ${failure}`);
  return { seed, ok: failure === undefined, ...(failure ? { failure } : {}), trace, virtualMs: clock.now(), nodes: nodes.length };
}

function checkInvariants(sc: Scenario, nodes: SimNode[], survivors: SimNode[], selfJoins: number[], now: number, limit: number): string | undefined {
  const host = (n: SimNode) => n.point.host;
  const survivorJoins = selfJoins.filter((i) => sc.nodes[i]!.crashAt === undefined);
  if (survivorJoins.length > 1) return `two clusters: ${survivorJoins.map((i) => nodes[i]!.point.host).join(' and ')} both self-joined`;
  const decided = survivors.filter((n) => n.decision);
  const firstSeeds = new Set(decided.map((n) => n.decision!.seeds[0]!.host));
  if (firstSeeds.size > 1) return `survivors disagree on the first seed: ${[...firstSeeds].join(', ')}`;
  if (survivorJoins.length === 1 && decided.length > 0 && !firstSeeds.has(host(nodes[survivorJoins[0]!]!))) {
    return `${host(nodes[survivorJoins[0]!]!)} formed a cluster but survivors joined ${[...firstSeeds][0]}`;
  }
  for (const n of decided) {
    if (n.decision!.seeds.length > 5) return `${host(n)} got ${n.decision!.seeds.length} seeds (at most 5)`;
  }
  // Liveness: with no crashes, every node decides within the stable margin plus a few probe rounds
  // of the last view change anywhere.
  const crashes = sc.nodes.some((s) => s.crashAt !== undefined);
  if (!crashes) {
    const undecided = survivors.filter((n) => !n.decision);
    if (undecided.length > 0) return `${undecided.length} node(s) never decided by ${Math.min(now, limit)} ms (e.g. ${host(undecided[0]!)}: ${undecided[0]!.coordinator?.waitingOn?.gate} — ${undecided[0]!.coordinator?.waitingOn?.detail})`;
    const s = sc.settings;
    const lastChange = Math.max(...nodes.map((n) => n.lastViewChangeAt), sc.convergeAt);
    const bound = lastChange + s.stableMarginMs + 3 * (1.2 * s.probeIntervalMs + s.probeTimeoutMs) + 2 * s.discoveryIntervalMs + 200;
    const late = survivors.filter((n) => n.decision!.decidedAt > bound);
    if (late.length > 0) return `${host(late[0]!)} decided at ${late[0]!.decision!.decidedAt} ms, later than the bound ${Math.round(bound)} ms (last view change ${lastChange} ms)`;
  }
  return undefined;
}


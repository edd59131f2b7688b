import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator, type CoordinatorDecision } from '../../src/bootstrap/coordinator.js';
import { startEndpoint, type ManagementEndpoint } from '../../src/bootstrap/endpoint.js';
import { createHttpProbeTransport, type PollAnswer, type ProbeTransport } from '../../src/bootstrap/prober.js';
import { HELD_HEADER, LEGACY_MAX_WAIT_MS, MAX_WAIT_HEADER, MAX_WAIT_MS, type SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import { BootstrapSettings } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { VirtualClock } from '../../src/testing/virtual-clock.js';
import type { ContactPoint } from '../../src/types.js';

// The bounded long poll (GET /bootstrap/seed-nodes?waitMs=N + If-None-Match). What is checked is
// why an answer came (a change, or the hold running out, as HELD_HEADER and the ETag say), never
// how fast: the holds below are far longer than any answer needs.

const me = { host: '127.0.0.1', port: 7000 };
const undecided: SeedNodesResponse = { self: me, seedNodes: [], lowest: me, view: 1, members: 0 };

function subscribe(listeners: Set<() => void>, l: () => void) {
  listeners.add(l);
  return () => void listeners.delete(l);
}

/** An endpoint whose state the test changes; `announce()` tells held polls, as the coordinator does. */
async function endpointWithState(options: { changes?: boolean; token?: string } = {}) {
  let state = undecided;
  const listeners = new Set<() => void>();
  const endpoint = await startEndpoint({
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger,
    token: options.token,
    report: () => state,
    ...(options.changes === false ? {} : { changes: (l: () => void) => subscribe(listeners, l) }),
  });
  opened.push(endpoint);
  const transport = createHttpProbeTransport({ defaultPort: endpoint.port, logger: silentLogger, token: options.token });
  transports.push(transport);
  const target = { host: '127.0.0.1', port: endpoint.port };
  return {
    endpoint,
    listeners,
    target,
    poll: (etag: string | undefined, waitMs: number, signal = AbortSignal.timeout(20_000)) => transport.poll!(target, { signal, etag, waitMs }),
    set(next: Partial<SeedNodesResponse>) {
      state = { ...state, ...next };
      for (const l of [...listeners]) l();
    },
  };
}

const opened: ManagementEndpoint[] = [];
const transports: ProbeTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(opened.splice(0).map((e) => e.close()));
});

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

/** A poll that the endpoint is holding (its listener subscribed), with the ETag it was sent. */
async function heldPoll(e: Awaited<ReturnType<typeof endpointWithState>>, waitMs: number) {
  const { etag } = await e.poll(undefined, 0);
  const pending = e.poll(etag, waitMs);
  await until(() => e.listeners.size === 1);
  return { etag, pending };
}

describe('long poll at the endpoint', () => {
  it('a plain GET is answered at once, as before, plus an ETag; waitMs without If-None-Match too', async () => {
    const e = await endpointWithState();
    const plain = await get(e.target.port, '/bootstrap/seed-nodes');
    expect(plain.status).toBe(200);
    expect(JSON.parse(plain.body)).toEqual(undecided);
    expect(plain.headers.etag).toMatch(/^W\/"[\w-]{22}"$/);
    expect(plain.headers[HELD_HEADER]).toBeUndefined();
    // Every answer says how long this endpoint holds at most, so probers with longer intervals ask for it.
    expect(plain.headers[MAX_WAIT_HEADER]).toBe(String(MAX_WAIT_MS));
    const first = await e.poll(undefined, 10_000);
    expect(first).toMatchObject({ response: undecided, etag: plain.headers.etag, heldMs: 0, maxWaitMs: MAX_WAIT_MS });
    expect(e.listeners.size).toBe(0);
  });

  it('is held until the seeds or the lowest change, then answers the new state', async () => {
    const e = await endpointWithState();
    const { etag, pending } = await heldPoll(e, 10_000);
    e.set({ seedNodes: [me], members: 1 });
    const answer = await pending;
    expect(answer.response.seedNodes).toEqual([me]);
    expect(answer.etag).not.toBe(etag);
    expect(answer.heldMs).toBeLessThan(10_000);
    expect(e.listeners.size).toBe(0);
  });

  it('ignores changes of view and members (weak ETag): the hold runs its course and answers the current state', async () => {
    const e = await endpointWithState();
    const { etag, pending } = await heldPoll(e, 300);
    e.set({ view: 7 });
    const answer = await pending;
    expect(answer.etag).toBe(etag);
    expect(answer.heldMs).toBeGreaterThanOrEqual(300);
    expect(answer.response.view).toBe(7);
  });

  it('answers at once when the prober is behind (another ETag) or nothing announces changes', async () => {
    const e = await endpointWithState();
    const behind = await e.poll('W/"something-older"', 10_000);
    expect(behind.heldMs).toBe(0);
    const quiet = await endpointWithState({ changes: false });
    const { etag } = await quiet.poll(undefined, 0);
    const answer = await quiet.poll(etag, 10_000);
    expect(answer.etag).toBe(etag);
    expect(answer.heldMs).toBeLessThan(10_000);
  });

  it('rejects a malformed or too long waitMs with 400, and needs the token like a plain GET', async () => {
    const e = await endpointWithState();
    for (const bad of ['abc', '60001', '-1', '1.5', '']) {
      const r = await get(e.target.port, `/bootstrap/seed-nodes?waitMs=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body).toContain('waitMs must be an integer from 0 to 60000');
    }
    const secured = await endpointWithState({ token: 's3cret' });
    const noToken = await get(secured.target.port, '/bootstrap/seed-nodes?waitMs=100', { 'if-none-match': 'x' });
    expect(noToken.status).toBe(401);
    expect((await secured.poll(undefined, 0)).response).toEqual(undecided);
  });

  it('a malformed hold header from a peer is a ProtocolError naming the header, never an answer', async () => {
    for (const [header, value] of [
      [HELD_HEADER, '-5'],
      [MAX_WAIT_HEADER, 'soon'],
    ] as const) {
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', etag: 'W/"x"', [header]: value });
        res.end(JSON.stringify(undecided));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const transport = createHttpProbeTransport({ defaultPort: port, logger: silentLogger });
      transports.push(transport);
      const err = await transport.poll!({ host: '127.0.0.1', port }, { signal: AbortSignal.timeout(5000), etag: undefined, waitMs: 0 }).catch(
        (e: unknown) => e,
      );
      await transport.close();
      await new Promise<void>((r) => server.close(() => r()));
      expect(err, header).toMatchObject({ code: 'CLUSTERSEED_E_PROTOCOL', hint: expect.stringContaining('clusterseed management endpoint') });
      expect((err as Error).message).toContain(`header ${header} must be a non-negative integer`);
    }
  });

  it('a prober that goes away, or close(), releases the hold: no listener is left', async () => {
    const e = await endpointWithState();
    const { etag } = await e.poll(undefined, 0);
    const gone = new AbortController();
    const abandoned = e.poll(etag, 10_000, gone.signal).catch((err: unknown) => err);
    await until(() => e.listeners.size === 1);
    gone.abort();
    await abandoned;
    await until(() => e.listeners.size === 0);
    const pending = e.poll(etag, 10_000).catch((err: unknown) => err);
    await until(() => e.listeners.size === 1);
    await e.endpoint.close();
    expect(await pending).toBeInstanceOf(Error);
    await until(() => e.listeners.size === 0);
  });
});

// On virtual time: the coordinator's use of the long poll.
const A = { host: '10.0.0.1', port: 7626 };
const B = { host: '10.0.0.2', port: 7626 };

/**
 * Peer A as a scripted responder on the virtual clock: holds polls (with its current ETag) until its
 * state changes or waitMs pass, like the endpoint. `withPoll: false` is a peer that cannot hold.
 */
function scriptedPeer(clock: VirtualClock, withPoll: boolean) {
  let state: SeedNodesResponse = { self: A, seedNodes: [], lowest: A, view: 2, members: 0 };
  let version = 0;
  const waiters = new Set<() => void>();
  const requests = { probe: 0, poll: 0 };
  const answer = (heldMs: number): PollAnswer => ({ response: state, etag: `v${version}`, heldMs });
  const transport: ProbeTransport = {
    probe: async () => {
      requests.probe++;
      return state;
    },
    close: async () => {},
  };
  if (withPoll) {
    transport.poll = (_target: ContactPoint, { signal, etag, waitMs }) => {
      requests.poll++;
      if (etag !== `v${version}` || waitMs === 0) return Promise.resolve(answer(0));
      const since = clock.now();
      return new Promise<PollAnswer>((resolve, reject) => {
        const done = () => {
          timer.cancel();
          waiters.delete(done);
          resolve(answer(clock.now() - since));
        };
        const timer = clock.setTimeout(done, waitMs);
        waiters.add(done);
        signal.addEventListener('abort', () => {
          timer.cancel();
          waiters.delete(done);
          reject(signal.reason);
        });
      });
    };
  }
  return {
    transport,
    requests,
    decide() {
      state = { ...state, seedNodes: [A], members: 1 };
      version++;
      for (const w of [...waiters]) w();
    },
  };
}

/** Node B (not the lowest) running its coordinator against peer A through `transport`. */
function startJoiner(clock: VirtualClock, transport: ProbeTransport) {
  const coordinator = new Coordinator({
    self: B,
    settings: BootstrapSettings.parse({ stableMarginMs: 5000, probeTimeoutMs: 1000 }),
    discover: async () => [A, B],
    transport,
    join: async () => {},
    clock,
    random: () => 0.5,
    logger: silentLogger,
  });
  let decided: CoordinatorDecision | undefined;
  void coordinator.run().then((d) => (decided = d));
  return { coordinator, decided: () => decided };
}

function joiner(withPoll: boolean) {
  const clock = new VirtualClock(1000);
  const peer = scriptedPeer(clock, withPoll);
  return { clock, peer, ...startJoiner(clock, peer.transport) };
}

describe('Coordinator with the long poll (virtual time)', () => {
  it("learns the founder's decision when it is made, not at the next probe; the same scenario without the poll waits for the next probe", async () => {
    for (const withPoll of [true, false]) {
      const { clock, peer, coordinator, decided } = joiner(withPoll);
      await clock.advance(2500); // B waits: A is lower (not-lowest)
      expect(decided()).toBeUndefined();
      const decidedAt = clock.now();
      peer.decide();
      await clock.advance(1);
      if (withPoll) {
        expect(decided()).toMatchObject({ seeds: [A], formedNewCluster: false, decidedAt: decidedAt });
        // One poll answered at once, then one held per interval: about one request per probeIntervalMs.
        expect(peer.requests.poll).toBeLessThanOrEqual(5);
      } else {
        expect(decided()).toBeUndefined();
        await clock.advance(1200);
        expect(decided()).toMatchObject({ seeds: [A], formedNewCluster: false });
      }
      coordinator.stop();
    }
  });

  it("counts the peer's hold as the peer's time, never as the answer's age: an answer handled late counts as stale", async () => {
    // A first answer at once (undecided), then every poll is answered 1.5 s after it was sent, with
    // probeTimeoutMs 1000. Claiming a 1.5 s hold, the answer is fresh and B joins; claiming 0 ms (sent
    // at once, handled 1.5 s later, as after a pause of this process) it is stale and B never joins.
    for (const heldMs of [1500, 0]) {
      const clock = new VirtualClock(1000);
      const decidedA = { self: A, seedNodes: [A], lowest: A, view: 2, members: 1 };
      const transport: ProbeTransport = {
        probe: async () => decidedA,
        poll: (_t, { signal, etag }) =>
          etag === undefined
            ? Promise.resolve({ response: { ...decidedA, seedNodes: [], members: 0 }, etag: 'v0', heldMs: 0 })
            : new Promise<PollAnswer>((resolve, reject) => {
                const t = clock.setTimeout(() => resolve({ response: decidedA, etag: 'v1', heldMs }), 1500);
                signal.addEventListener('abort', () => {
                  t.cancel();
                  reject(signal.reason);
                });
              }),
        close: async () => {},
      };
      const { coordinator, decided } = startJoiner(clock, transport);
      await clock.advance(10_000);
      if (heldMs > 0) expect(decided()).toMatchObject({ seeds: [A], formedNewCluster: false });
      else {
        expect(decided()).toBeUndefined();
        // No fresh observation of A: only self is confirmed.
        expect(coordinator.waitingOn?.gate).toBe('required-contact-points');
      }
      coordinator.stop();
    }
  });
});

describe('long poll pacing on virtual time', () => {
  it('an unchanged answer is asked for once per probeIntervalMs, held as long as the peer grants, also past the longest hold', async () => {
    // probeIntervalMs 30 s. A peer that grants 60 s holds each poll for the whole interval; one that
    // does not say (the first versions of the long poll) holds 10 s, and the rest of the interval is
    // waited. The peer never decides: without the wait, 300 s would cost 30 polls of the legacy peer.
    for (const grants of [MAX_WAIT_MS, undefined]) {
      const clock = new VirtualClock(0);
      const peer = { host: '10.0.0.2', port: 7626 };
      const asked: number[] = [];
      const transport: ProbeTransport = {
        probe: async () => ({ ...undecided, self: peer }),
        poll: (_p, { waitMs, signal }) =>
          new Promise<PollAnswer>((resolve, reject) => {
            asked.push(waitMs);
            const answer = { response: { ...undecided, self: peer }, etag: 'W/"same"', heldMs: waitMs, maxWaitMs: grants };
            const t = clock.setTimeout(() => resolve(answer), waitMs);
            signal.addEventListener(
              'abort',
              () => {
                t.cancel();
                reject(signal.reason);
              },
              { once: true },
            );
          }),
        close: async () => {},
      };
      const coordinator = new Coordinator({
        self: { host: '10.0.0.9', port: 7626 },
        settings: BootstrapSettings.parse({ probeIntervalMs: 30_000, probeTimeoutMs: 5000, probeFailureWindowMs: 90_000, stableMarginMs: 600_000 }),
        discover: async () => [peer, { host: '10.0.0.9', port: 7626 }],
        transport,
        join: async () => {},
        clock,
        random: () => 0.5,
        logger: silentLogger,
      });
      void coordinator.run().catch(() => {});
      await clock.advance(300_000);
      coordinator.stop();
      // 300 s / (30 s × 1.1 jitter) ≈ 9 (the first probe, then one per interval).
      expect(asked.length, String(grants)).toBeGreaterThanOrEqual(8);
      expect(asked.length, String(grants)).toBeLessThanOrEqual(11);
      // The first poll has no ETag yet (answered at once); every later one is held.
      const holds = asked.slice(1);
      expect(new Set(holds)).toEqual(new Set([grants === undefined ? LEGACY_MAX_WAIT_MS : 33_000]));
    }
  });
});

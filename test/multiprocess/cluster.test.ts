import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, sleep, waitFor } from './nodes.js';

// Short intervals so the tests are quick, generous deadlines so a loaded 2-core CI machine passes.
const settings = {
  discoveryIntervalMs: 200,
  probeIntervalMs: 200,
  probeTimeoutMs: 1500,
  probeFailureWindowMs: 4000,
  stableMarginMs: 1500,
  bootstrapTimeoutMs: 90_000,
};

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.cleanup();
  fleet = undefined;
});

const shuffle = <T>(xs: T[]) =>
  xs
    .map((x) => [Math.random(), x] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, x]) => x);

describe('real processes on 127.0.0.x', () => {
  it('7 nodes with random start delays form one cluster seeded by the lowest address; a late joiner joins it', { timeout: 120_000 }, async () => {
    fleet = await new Fleet().init();
    const f = fleet;
    const hosts = shuffle([101, 102, 103, 104, 105, 106, 107].map((i) => `127.0.0.${i}`));
    await Promise.all(
      hosts.map(async (h) => {
        await sleep(Math.floor(Math.random() * 2000));
        await f.start(h, settings);
      }),
    );
    await waitFor(
      () => f.nodes.every((n) => n.result || n.exit),
      90_000,
      () => f.describe(),
    );
    const results = f.nodes.map((n) => n.result);
    expect(results.every(Boolean), f.describe()).toBe(true);
    expect(new Set(results.map((r) => r!.seeds[0]!.host))).toEqual(new Set(['127.0.0.101']));
    const formers = results.filter((r) => r!.formedNewCluster);
    expect(formers.map((r) => r!.self.host)).toEqual(['127.0.0.101']);
    const firstSeed = formers[0]!.self;
    for (const r of results) expect(r!.seeds[0]).toEqual(firstSeed);

    // Started after formation, with an address lower than everyone's: it must join, not form.
    const late = await f.start('127.0.0.100', settings);
    await waitFor(
      () => Boolean(late.result || late.exit),
      60_000,
      () => f.describe(),
    );
    expect(late.result, f.describe()).toMatchObject({ formedNewCluster: false });
    expect(late.result!.seeds[0]).toEqual(firstSeed);

    // Graceful shutdown: exit 0 and every registration removed.
    await f.stopAll();
    expect(f.nodes.map((n) => n.exit?.code)).toEqual(new Array(8).fill(0));
    expect(await f.registered()).toBe(0);
  });

  it('kill -9 of the lowest node before it forms: the others still form exactly one cluster', { timeout: 120_000 }, async () => {
    fleet = await new Fleet().init();
    const f = fleet;
    // A long stable margin (no fast path) leaves time to kill the lowest after everyone registered.
    const slow = { ...settings, stableMarginMs: 6000 };
    const lowest = await f.start('127.0.0.121', slow);
    await Promise.all(
      shuffle([122, 123, 124, 125, 126, 127].map((i) => `127.0.0.${i}`)).map(async (h) => {
        await sleep(Math.floor(Math.random() * 1000));
        await f.start(h, slow);
      }),
    );
    await waitFor(
      async () => (await f.registered()) === 7,
      60_000,
      () => f.describe(),
    );
    expect(lowest.result, 'the lowest node decided before it could be killed (machine extremely loaded?)').toBeUndefined();
    lowest.child.kill('SIGKILL');
    await waitFor(
      () => Boolean(lowest.exit),
      10_000,
      () => f.describe(),
    );

    const rest = f.nodes.filter((n) => n !== lowest);
    await waitFor(
      () => rest.every((n) => n.result || n.exit),
      90_000,
      () => f.describe(),
    );
    expect(
      rest.every((n) => n.result),
      f.describe(),
    ).toBe(true);
    const formers = rest.filter((n) => n.result!.formedNewCluster);
    expect(formers.map((n) => n.host)).toEqual(['127.0.0.122']);
    for (const n of rest) expect(n.result!.seeds[0]).toEqual(formers[0]!.result!.self);
    expect(rest.every((n) => n.result!.seeds.every((s) => s.host !== '127.0.0.121'))).toBe(true);
  });
});

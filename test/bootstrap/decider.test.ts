import { describe, expect, it } from 'vitest';
import { decide, pointKey, type DeciderInput, type PeerObservation } from '../../src/bootstrap/decider.js';
import type { SeedNodesResponse } from '../../src/bootstrap/protocol.js';
import type { ContactPoint } from '../../src/types.js';

const cp = (host: string, port = 7626): ContactPoint => ({ host, port });
const A = cp('10.0.0.1'),
  B = cp('10.0.0.2'),
  C = cp('10.0.0.3');
const settings = { newClusterEnabled: true, requiredContactPoints: 2, stableMarginMs: 5000, expectedContactPoints: undefined, probeFailureWindowMs: 3000 };

function response(self: ContactPoint, over: Partial<SeedNodesResponse> = {}): SeedNodesResponse {
  return { self, seedNodes: [], lowest: A, view: 3, members: over.seedNodes?.length ?? 0, ...over };
}
function obs(entries: [ContactPoint, SeedNodesResponse, number][]): Map<string, PeerObservation> {
  return new Map(entries.map(([p, r, at]) => [pointKey(p), { response: r, at }]));
}
function input(over: Partial<DeciderInput> = {}): DeciderInput {
  return {
    self: A,
    view: [A, B, C],
    viewSince: 0,
    observations: obs([
      [B, response(B), 9000],
      [C, response(C), 9500],
    ]),
    settings,
    now: 10_000,
    ...over,
  };
}

describe('decide', () => {
  it('self-joins when every gate is open', () => {
    expect(decide(input())).toEqual({ kind: 'self-join' });
  });

  it('joins a peer that is in a cluster, whatever the gates say, first seed first', () => {
    const d = decide(
      input({
        self: C,
        viewSince: 9999,
        settings: { ...settings, newClusterEnabled: false },
        observations: obs([
          [A, response(A, { seedNodes: [A] }), 9000],
          [B, response(B, { seedNodes: [A, cp('10.0.0.9')] }), 9000],
        ]),
      }),
    );
    expect(d).toEqual({ kind: 'join', seeds: [A, B, cp('10.0.0.9')], conflictingFirstSeeds: [], members: 2 });
  });

  // DESIGN §5.5.4: joiners that see two clusters join the one that survives, as its nodes compute it:
  // a cluster's members are the responders that name its first seed (the clusters' census counts the
  // same answers), not the `members` each responder reports (what it has seen so far).
  describe('when peers disagree on the first seed', () => {
    const X = cp('10.0.0.50'),
      Y = cp('10.0.0.60');
    const D = cp('10.0.0.4'),
      E = cp('10.0.0.5');
    const view = [A, B, C, D, E];
    const joining = (entries: [ContactPoint, SeedNodesResponse][], over: Partial<DeciderInput> = {}) =>
      decide(input({ self: E, view, observations: obs(entries.map(([p, r]) => [p, r, 9000])), ...over }));

    it('joins the cluster more responders name, even with the higher first seed, and reports the other', () => {
      const d = joining([
        [A, response(A, { seedNodes: [X, A], members: 2 })],
        [B, response(B, { seedNodes: [B], members: 2 })],
        [C, response(C, { seedNodes: [X, C], members: 2 })],
        [D, response(D, { seedNodes: [X], members: 1 })],
      ]);
      expect(d).toEqual({ kind: 'join', seeds: [X, A, C, D], conflictingFirstSeeds: [B], members: 3 });
    });

    it('does not compare the members responders report: right after forming they still count 1', () => {
      // X's only responder claims 9; B's two responders (B itself, C) still report 1 each: B has 2.
      const d = joining([
        [A, response(A, { seedNodes: [X], members: 9 })],
        [B, response(B, { seedNodes: [B], members: 1 })],
        [C, response(C, { seedNodes: [B, C], members: 1 })],
        [D, response(D, { seedNodes: [] })],
      ]);
      expect(d).toMatchObject({ kind: 'join', seeds: [B, C], conflictingFirstSeeds: [X], members: 2 });
    });

    it("breaks a tie by the lower first seed, whatever the responders' order", () => {
      const a = joining([
        [A, response(A, { seedNodes: [Y] })],
        [B, response(B, { seedNodes: [X] })],
        [C, response(C)],
        [D, response(D)],
      ]);
      const b = joining([
        [D, response(D)],
        [C, response(C)],
        [B, response(B, { seedNodes: [X] })],
        [A, response(A, { seedNodes: [Y] })],
      ]);
      expect(a).toMatchObject({ seeds: [X, B], conflictingFirstSeeds: [Y] });
      expect(b).toEqual(a);
    });

    it('waits for the peers that have not answered yet (they may be in the other cluster), at most probeFailureWindowMs after the view changed', () => {
      const entries = obs([[A, response(A, { seedNodes: [A] }), 9000]]);
      // B, C and D have not answered: the view changed 1 s ago, within the 3 s failure window.
      expect(decide(input({ self: E, view, viewSince: 9000, observations: entries }))).toMatchObject({ kind: 'wait', gate: 'unconfirmed-contact-points' });
      // 3 s after the view changed they count as failed: join what answered.
      expect(decide(input({ self: E, view, viewSince: 7000, observations: entries }))).toMatchObject({ kind: 'join', seeds: [A] });
    });

    it('the legacy rule (negative control only) joins the lowest first seed at once', () => {
      const entries: [ContactPoint, SeedNodesResponse][] = [
        [A, response(A, { seedNodes: [X] })],
        [C, response(C, { seedNodes: [X] })],
        [B, response(B, { seedNodes: [B] })],
      ];
      expect(joining(entries, { viewSince: 10_000 })).toMatchObject({ kind: 'wait' }); // D has not answered
      expect(joining(entries)).toMatchObject({ seeds: [X, A, C] });
      expect(joining(entries, { viewSince: 10_000, lowestFirstSeedRule: true })).toMatchObject({ seeds: [B], conflictingFirstSeeds: [X] });
    });
  });

  it('caps seeds at 5', () => {
    const many = Array.from({ length: 9 }, (_, i) => cp(`10.0.1.${i + 1}`));
    const d = decide(input({ self: C, observations: obs([[A, response(A, { seedNodes: [A, ...many] }), 9000]]) }));
    expect(d.kind === 'join' && d.seeds.length).toBe(5);
  });

  it('ignores stale responses, also for joining', () => {
    const d = decide(
      input({
        observations: obs([
          [B, response(B, { seedNodes: [B] }), 6999],
          [C, response(C), 9500],
        ]),
      }),
    );
    expect(d).toMatchObject({ kind: 'wait', gate: 'unconfirmed-contact-points' });
    if (d.kind === 'wait') expect(d.detail).toContain('10.0.0.2:7626');
  });

  it('checks the gates in the documented order', () => {
    // new cluster disabled comes before everything else
    expect(decide(input({ settings: { ...settings, newClusterEnabled: false } }))).toMatchObject({ gate: 'new-cluster-disabled' });
    // required contact points: only self is confirmed
    expect(decide(input({ observations: obs([]), viewSince: 9999 }))).toMatchObject({ gate: 'required-contact-points' });
    // enough confirmed, but C never answered
    expect(decide(input({ observations: obs([[B, response(B), 9000]]), viewSince: 9999 }))).toMatchObject({ gate: 'unconfirmed-contact-points' });
    // all confirmed, view too young
    expect(
      decide(
        input({
          viewSince: 6000,
          self: B,
          observations: obs([
            [A, response(A), 9000],
            [C, response(C), 9000],
          ]),
        }),
      ),
    ).toMatchObject({ gate: 'stable-margin' });
    // stable, but someone is lower
    expect(
      decide(
        input({
          self: B,
          observations: obs([
            [A, response(A), 9000],
            [C, response(C), 9000],
          ]),
        }),
      ),
    ).toMatchObject({ gate: 'not-lowest' });
    // lowest, but a peer sees a lower node
    expect(
      decide(
        input({
          observations: obs([
            [B, response(B, { lowest: cp('10.0.0.0') }), 9000],
            [C, response(C), 9000],
          ]),
        }),
      ),
    ).toMatchObject({ gate: 'view-agreement' });
  });

  it('takes the fast path when the view holds expectedContactPoints', () => {
    const young = input({ viewSince: 9990 });
    expect(decide(young)).toMatchObject({ gate: 'stable-margin' });
    expect(decide({ ...young, settings: { ...settings, expectedContactPoints: 3 } })).toEqual({ kind: 'self-join' });
    expect(decide({ ...young, settings: { ...settings, expectedContactPoints: 4 } })).toMatchObject({ gate: 'stable-margin' });
  });

  it('never self-joins before the first lookup, nor when self is not discovered', () => {
    expect(decide(input({ viewSince: undefined }))).toMatchObject({ gate: 'stable-margin' });
    const d = decide(
      input({
        self: cp('10.0.0.0'),
        view: [A, B, C],
        observations: obs([
          [A, response(A), 9000],
          [B, response(B), 9000],
          [C, response(C), 9000],
        ]),
      }),
    );
    expect(d).toMatchObject({ gate: 'not-lowest' });
  });

  it('a peer with an empty view (lowest null) blocks view agreement', () => {
    const d = decide(
      input({
        observations: obs([
          [B, response(B, { lowest: null, view: 0 }), 9000],
          [C, response(C), 9000],
        ]),
      }),
    );
    expect(d).toMatchObject({ gate: 'view-agreement' });
  });

  it('requiredContactPoints 1 lets a lone node form a cluster', () => {
    const d = decide(input({ view: [A], observations: obs([]), settings: { ...settings, requiredContactPoints: 1 } }));
    expect(d).toEqual({ kind: 'self-join' });
  });

  it('is pure: observations of points outside the view do not count', () => {
    const d = decide(
      input({
        view: [A, B],
        observations: obs([
          [B, response(B), 9000],
          [C, response(C, { seedNodes: [C] }), 9000],
        ]),
      }),
    );
    expect(d).toEqual({ kind: 'self-join' });
  });
});

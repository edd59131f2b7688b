import { describe, expect, it } from 'vitest';
import { decideFromRecord } from '../../src/lock/decide.js';
import type { ContactPoint } from '../../src/types.js';

const p = (i: number): ContactPoint => ({ host: `10.0.0.${i}`, port: 7626 });
const self = p(50);
const fs = (i: number, cluster?: string) => (cluster === undefined ? { point: p(i) } : { point: p(i), cluster });

describe('decideFromRecord (lock strategy reading of the cluster record)', () => {
  it('elects when there is no record', () => {
    expect(decideFromRecord({ members: [] }, [p(1), self], self)).toEqual({ kind: 'elect' });
  });

  it('joins a live first seed first, then live members in canonical order, at most 5', () => {
    const members = [p(9), p(3), p(200), p(7), p(4), p(5), p(6)];
    const live = [p(9), p(3), p(200), p(7), p(4), p(5), p(6), self];
    expect(decideFromRecord({ firstSeed: fs(7, 'c1'), members }, live, self)).toEqual({
      kind: 'join',
      seeds: [p(7), p(3), p(4), p(5), p(6)],
      formation: fs(7, 'c1'),
    });
  });

  it('ignores members that are no longer registered', () => {
    expect(decideFromRecord({ firstSeed: fs(7), members: [p(1), p(7), p(8)] }, [p(7), p(8)], self)).toEqual({
      kind: 'join',
      seeds: [p(7), p(8)],
      formation: fs(7),
    });
  });

  it('replaces a stale first seed with the lowest live member, keeping the formation id', () => {
    expect(decideFromRecord({ firstSeed: fs(2, 'c1'), members: [p(2), p(9), p(4)] }, [p(9), p(4), self], self)).toEqual({
      kind: 'repair',
      stale: fs(2, 'c1'),
      replacement: fs(4, 'c1'),
    });
  });

  it('clears a stale first seed when no member is live', () => {
    expect(decideFromRecord({ firstSeed: fs(2), members: [p(2)] }, [self], self)).toEqual({ kind: 'repair', stale: fs(2) });
  });

  it('treats a record naming self as a leftover of an earlier incarnation', () => {
    expect(decideFromRecord({ firstSeed: { point: self }, members: [self] }, [self], self)).toEqual({ kind: 'repair', stale: { point: self } });
  });

  it('restores a missing first seed from live members', () => {
    expect(decideFromRecord({ members: [p(9), p(4)] }, [p(9), p(4)], self)).toEqual({ kind: 'repair', replacement: fs(4) });
  });

  it('waits for a live founder that is still forming, and clears a dead one (no members to hand over)', () => {
    const forming = { point: p(2), cluster: 'c1', forming: true as const };
    expect(decideFromRecord({ firstSeed: forming, members: [p(9)] }, [p(2), p(9), self], self)).toEqual({ kind: 'wait-for-founder', founder: p(2), forming });
    expect(decideFromRecord({ firstSeed: forming, members: [p(9)] }, [p(9), self], self)).toEqual({ kind: 'repair', stale: forming });
  });
});

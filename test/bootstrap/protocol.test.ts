import { describe, expect, it } from 'vitest';
import { parseSeedNodesResponse } from '../../src/bootstrap/protocol.js';

const base = { self: { host: '10.0.0.1', port: 7626 }, seedNodes: [{ host: '10.0.0.1', port: 7626 }], lowest: null, view: 1 };

describe('parseSeedNodesResponse: members (DESIGN §5.2 step 3, §5.5.4)', () => {
  it('reads members', () => {
    expect(parseSeedNodesResponse({ ...base, members: 3 }, 'probe of x')).toMatchObject({ members: 3 });
    expect(parseSeedNodesResponse({ ...base, seedNodes: [], members: 0 }, 'probe of x')).toMatchObject({ members: 0 });
  });

  it('an older peer without members counts as 0 (unknown), not as an error', () => {
    expect(parseSeedNodesResponse(base, 'probe of x').members).toBe(0);
  });

  it.each([-1, 1.5, '3', null, true, Number.NaN, Number.POSITIVE_INFINITY])('rejects members %s with a ProtocolError naming the field', (members) => {
    expect(() => parseSeedNodesResponse({ ...base, members }, 'probe of 10.0.0.2:7626')).toThrow(
      expect.objectContaining({ code: 'CLUSTERSEED_E_PROTOCOL', message: 'probe of 10.0.0.2:7626: "members" must be a non-negative integer' }),
    );
  });
});

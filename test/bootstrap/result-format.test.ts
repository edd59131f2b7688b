import { describe, expect, it } from 'vitest';
import { formatResult, resultEnv } from '../../src/cli/result-format.js';
import type { BootstrapResult } from '../../src/bootstrap/strategy.js';

const result: BootstrapResult = {
  seeds: [
    { host: '10.0.1.5', port: 7626, meta: { instanceId: 'i-1' } },
    { host: 'fd00::7', port: 7626 },
  ],
  self: { host: '10.0.1.7', port: 7626 },
  formedNewCluster: false,
  strategy: 'lowest-address',
  elapsedMs: 812.4,
};

describe('formatResult', () => {
  it('json: one object, contact points as {host, port}, no meta', () => {
    expect(JSON.parse(formatResult(result, 'json'))).toEqual({
      self: { host: '10.0.1.7', port: 7626 },
      seeds: [
        { host: '10.0.1.5', port: 7626 },
        { host: 'fd00::7', port: 7626 },
      ],
      formedNewCluster: false,
      strategy: 'lowest-address',
      elapsedMs: 812,
    });
  });

  it('env: seeds first seed first, IPv6 bracketed; HOST_IP/HOST_PORT only when self was resolved', () => {
    expect(formatResult(result, 'env')).toBe(
      'CLUSTERSEED_SEEDS=10.0.1.5:7626,[fd00::7]:7626\nCLUSTERSEED_SELF=10.0.1.7:7626\nCLUSTERSEED_FORMED_NEW_CLUSTER=false\n',
    );
    expect(resultEnv(result, { selfResolved: true })).toMatchObject({ HOST_IP: '10.0.1.7', HOST_PORT: '7626' });
  });

  it('env: quotes values a shell would split', () => {
    const odd = { ...result, self: { host: 'a b', port: 1 } };
    expect(formatResult(odd, 'env')).toContain("CLUSTERSEED_SELF='a b:1'");
  });
});

import { describe, expect, it } from 'vitest';
import { backoffDelay, retry, sleep } from '../../src/backoff.js';
import { AuthError, ThrottledError } from '../../src/errors.js';
import { VirtualClock } from '../../src/testing/index.js';

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and jitters within bounds', () => {
    expect(backoffDelay(0, { initialMs: 100, jitter: 0 })).toBe(100);
    expect(backoffDelay(3, { initialMs: 100, jitter: 0 })).toBe(800);
    expect(backoffDelay(30, { initialMs: 100, maxMs: 15_000, jitter: 0 })).toBe(15_000);
    expect(backoffDelay(2, { initialMs: 100, jitter: 0.5 }, () => 0)).toBe(200);
    expect(backoffDelay(2, { initialMs: 100, jitter: 0.5 }, () => 0.999)).toBe(400);
  });
});

describe('retry', () => {
  it('retries retriable errors with back-off on the injected clock, then succeeds', async () => {
    const clock = new VirtualClock();
    let calls = 0;
    const delays: number[] = [];
    const p = retry(
      async () => {
        calls++;
        if (calls < 3) throw new ThrottledError('slow down');
        return 'ok';
      },
      { clock, initialMs: 100, jitter: 0, onRetry: (_e, _a, d) => delays.push(d) },
    );
    await clock.advance(1000);
    await expect(p).resolves.toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([100, 200]);
  });

  it('stops at once on a non-retriable error', async () => {
    let calls = 0;
    await expect(
      retry(async () => {
        calls++;
        throw new AuthError('no credentials');
      }),
    ).rejects.toBeInstanceOf(AuthError);
    expect(calls).toBe(1);
  });

  it('gives up after the attempts and rethrows the last error', async () => {
    const clock = new VirtualClock();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        throw new ThrottledError(`t${calls}`);
      },
      { clock, attempts: 3, initialMs: 1 },
    );
    const settled = expect(p).rejects.toThrow('t3');
    await clock.advance(100);
    await settled;
    expect(calls).toBe(3);
  });

  it('sleep rejects when aborted', async () => {
    const controller = new AbortController();
    const p = sleep(10_000, controller.signal, new VirtualClock());
    controller.abort();
    await expect(p).rejects.toMatchObject({ code: 'CLUSTERSEED_E_ABORTED' });
  });
});

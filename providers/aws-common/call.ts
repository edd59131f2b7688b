import { retry } from '../../src/backoff.js';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import { ThrottledError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { withDeadline } from '../../src/signal.js';
import { mapAwsError } from './errors.js';

/** Counts AWS API calls (every HTTP attempt, retries included) per IAM action, for logs, tests and the bench. */
export class ApiCallCounter {
  readonly #byAction = new Map<string, number>();
  total = 0;

  add(action: string): void {
    this.total += 1;
    this.#byAction.set(action, (this.#byAction.get(action) ?? 0) + 1);
  }

  get(action: string): number {
    return this.#byAction.get(action) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#byAction);
  }

  reset(): void {
    this.total = 0;
    this.#byAction.clear();
  }
}

export interface AwsCallOptions {
  /** "ec2:DescribeInstances" — the IAM action, also used in errors and counts. */
  iamAction: string;
  /** The caller's signal (usually the resolve deadline). */
  signal?: AbortSignal | undefined;
  /** Bound of one HTTP attempt [5000 ms]; the caller's signal bounds the whole call. */
  attemptTimeoutMs?: number | undefined;
  /** Attempts in all [4]. */
  attempts?: number | undefined;
  counter?: ApiCallCounter | undefined;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  endpoint?: string | undefined;
  random?: (() => number) | undefined;
}

/** Back-off policy for throttling: start at 500 ms (AWS token buckets refill per second), cap 10 s. */
const THROTTLE_POLICY = { initialMs: 500, maxMs: 10_000 } as const;
const ERROR_POLICY = { initialMs: 200, maxMs: 5_000 } as const;

/**
 * One AWS API call, e.g. `awsCall((abortSignal) => client.send(cmd, { abortSignal }), { iamAction })`:
 * each attempt gets its own timeout and the caller's signal; throttling and transient errors
 * (5xx, network, attempt timeout) are retried with back-off and jitter (src/backoff.ts); everything
 * else fails at once as a typed error.
 */
export async function awsCall<T>(send: (abortSignal: AbortSignal) => Promise<T>, options: AwsCallOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  let throttled = 0;
  return retry(
    async () => {
      const deadline = withDeadline(options.iamAction, options.attemptTimeoutMs ?? 5000, options.signal);
      options.counter?.add(options.iamAction);
      try {
        return await send(deadline.signal);
      } catch (err) {
        const mapped = mapAwsError(err, { iamAction: options.iamAction, endpoint: options.endpoint }, deadline.signal);
        if (mapped instanceof ThrottledError) throttled += 1;
        throw mapped;
      } finally {
        deadline.dispose();
      }
    },
    {
      attempts: options.attempts ?? 4,
      signal: options.signal,
      clock,
      random: options.random,
      // Throttling gets the longer policy; the attempt number still grows the delay.
      get initialMs() {
        return throttled > 0 ? THROTTLE_POLICY.initialMs : ERROR_POLICY.initialMs;
      },
      get maxMs() {
        return throttled > 0 ? THROTTLE_POLICY.maxMs : ERROR_POLICY.maxMs;
      },
      onRetry: (err, attempt, delayMs) => {
        options.logger?.debug({ action: options.iamAction, attempt: attempt + 1, delayMs, err: (err as Error).message }, 'retrying AWS call');
      },
    },
  );
}

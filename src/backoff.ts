import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { AbortedError, ClusterseedError } from './errors.js';

export interface BackoffPolicy {
  /** First delay [200 ms]. */
  initialMs?: number;
  /** Upper bound of any delay [15000 ms]. */
  maxMs?: number;
  /** Growth per attempt [2]. */
  factor?: number;
  /** Fraction of the delay that is randomised [0.5]: delay * (1 - jitter + random * jitter). */
  jitter?: number;
}

/**
 * The one back-off formula used everywhere (discovery loop, throttling, probe retries):
 * exponential growth capped at maxMs, with a random part so that a fleet restarted at once does not
 * retry in lock-step.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = {}, random: () => number = Math.random): number {
  const initial = policy.initialMs ?? 200;
  const max = policy.maxMs ?? 15_000;
  const factor = policy.factor ?? 2;
  const jitter = Math.min(Math.max(policy.jitter ?? 0.5, 0), 1);
  const base = Math.min(max, initial * factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter + random() * jitter));
}

/** Resolves after `ms` on `clock`, or rejects with AbortedError when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof ClusterseedError) return r;
  return new AbortedError('operation aborted', { cause: r });
}

export interface RetryOptions extends BackoffPolicy {
  /** Attempts in all, first included [5]. */
  attempts?: number;
  signal?: AbortSignal;
  clock?: Clock;
  random?: () => number;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, throws a non-retriable error, or runs out of attempts (kafkajs-style). */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const retriable = err instanceof ClusterseedError ? err.retriable : false;
      if (!retriable || attempt + 1 >= attempts || options.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, options, options.random);
      options.onRetry?.(err, attempt, delay);
      await sleep(delay, options.signal, options.clock);
    }
  }
}

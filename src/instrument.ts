import { canonicalize } from './address.js';
import { channels, publish } from './diagnostics.js';
import { abortReason } from './backoff.js';
import { ClusterseedError, DiscoveryError } from './errors.js';
import { withDeadline } from './signal.js';
import type { DiscoveryProvider, Lookup, ResolveOptions } from './types.js';

/**
 * Wraps a provider so every lookup — whatever the method — is bounded by its timeout and signal,
 * returns canonical order, fails only with ClusterseedErrors, and is published on
 * `clusterseed:discovery`.
 */
export function instrument<P extends DiscoveryProvider>(provider: P, defaultTimeoutMs = 10_000): P {
  const resolve = async (lookup: Lookup, options: ResolveOptions = {}) => {
    const started = performance.now();
    const deadline = withDeadline(`${provider.method} lookup of "${lookup.service}"`, options.timeoutMs ?? defaultTimeoutMs, options.signal);
    try {
      const points = await Promise.race([
        provider.resolve(lookup, { ...options, signal: deadline.signal }),
        new Promise<never>((_, reject) => {
          // A provider that ignores its signal must still not hang the caller.
          if (deadline.signal.aborted) reject(abortReason(deadline.signal));
          deadline.signal.addEventListener('abort', () => reject(abortReason(deadline.signal)), { once: true });
        }),
      ]);
      const sorted = canonicalize(points);
      publish(channels.discovery, { method: provider.method, service: lookup.service, durationMs: performance.now() - started, count: sorted.length });
      return sorted;
    } catch (err) {
      const error = deadline.signal.aborted && !(err instanceof ClusterseedError) ? abortReason(deadline.signal) : toClusterseedError(provider.method, err);
      publish(channels.discovery, { method: provider.method, service: lookup.service, durationMs: performance.now() - started, error });
      throw error;
    } finally {
      deadline.dispose();
    }
  };
  return new Proxy(provider, {
    get(target, prop) {
      if (prop === 'resolve') return resolve;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function toClusterseedError(method: string, err: unknown): ClusterseedError {
  if (err instanceof ClusterseedError) return err;
  return new DiscoveryError(`${method}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

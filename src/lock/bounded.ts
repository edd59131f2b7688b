import { abortReason } from '../backoff.js';
import { withDeadline } from '../signal.js';

/**
 * Bounds a client-library call that takes no AbortSignal of its own (node-zookeeper-client, some
 * etcd3 builders): the caller gets a TimeoutError after `timeoutMs` or the AbortedError of `signal`,
 * whatever the library does with the request afterwards.
 */
export async function bounded<T>(what: string, timeoutMs: number, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  const deadline = withDeadline(what, timeoutMs, signal);
  try {
    deadline.signal.throwIfAborted();
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        deadline.signal.addEventListener('abort', () => reject(abortReason(deadline.signal)), { once: true });
      }),
    ]);
  } catch (err) {
    if (deadline.signal.aborted) throw abortReason(deadline.signal);
    throw err;
  } finally {
    deadline.dispose();
  }
}

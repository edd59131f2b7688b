import { TimeoutError } from './errors.js';

export interface Deadline {
  signal: AbortSignal;
  /** Releases the timer; call it in `finally`. */
  dispose(): void;
}

/**
 * One AbortSignal that fires when the caller's signal fires or after `timeoutMs`, whichever comes
 * first; a timeout aborts with a TimeoutError that says what timed out.
 */
export function withDeadline(what: string, timeoutMs: number | undefined, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined && timeoutMs > 0 && !controller.signal.aborted) {
    timer = setTimeout(() => controller.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
  }
  return {
    signal: controller.signal,
    dispose() {
      if (timer) clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

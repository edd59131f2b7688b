import type http from 'node:http';
import { HELD_HEADER } from './protocol.js';

/** An answer of GET /bootstrap/seed-nodes, serialized once: its bytes and their ETag. */
export interface Rendered {
  text: string;
  etag: string;
}

export interface HoldOptions {
  res: http.ServerResponse;
  /** The ETag the prober already has (its If-None-Match, equal to the current answer's). */
  etag: string;
  waitMs: number;
  render: () => Promise<Rendered | undefined>;
  /** Subscribes to report changes; undefined (or returning undefined): nothing to wait for. */
  changes?: ((listener: () => void) => (() => void) | undefined) | undefined;
  reply: (r: Rendered | undefined, headers?: Record<string, string>) => void;
  failed: (err: unknown) => void;
}

/**
 * Holds one long poll (`?waitMs=`): answers as soon as the rendered answer's ETag differs from the
 * one the prober has, or when waitMs pass, whichever comes first; gives up silently when the prober
 * goes away (its socket closes). Resolves once the request is answered or gone, never rejects.
 * A change is announced by the coordinator and re-rendered here, so the answer is always the current
 * state, never one computed before the hold.
 */
export function holdUntilChanged(o: HoldOptions): Promise<void> {
  const since = performance.now();
  return new Promise<void>((resolve) => {
    let done = false;
    let rendering = false;
    let again = false;
    const finish = (answer?: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe?.();
      o.res.off('close', gone);
      answer?.();
      resolve();
    };
    const heldHeader = () => ({ [HELD_HEADER]: String(Math.round(performance.now() - since)) });
    const answerWith = (r: Rendered | undefined) => finish(() => o.reply(r, heldHeader()));
    // Changes come in bursts (one per discovery lookup and decision): render one at a time, and once
    // more after a burst, so the last change is never missed.
    const check = () => {
      if (done) return;
      if (rendering) {
        again = true;
        return;
      }
      rendering = true;
      o.render().then(
        (r) => {
          rendering = false;
          if (done) return;
          if (!r || r.etag !== o.etag) return answerWith(r);
          if (again) {
            again = false;
            check();
          }
        },
        (err: unknown) => {
          rendering = false;
          finish(() => o.failed(err));
        },
      );
    };
    const gone = () => finish();
    const timer = setTimeout(() => {
      // The hold ends: answer what is current now (fresh, and the same ETag in the usual case).
      o.render().then(answerWith, (err: unknown) => finish(() => o.failed(err)));
    }, o.waitMs);
    timer.unref();
    o.res.on('close', gone);
    const unsubscribe = o.changes?.(check);
    if (!unsubscribe) {
      // Nothing announces changes here (the lock strategy's report is fixed): no reason to hold.
      o.render().then(answerWith, (err: unknown) => finish(() => o.failed(err)));
    }
  });
}

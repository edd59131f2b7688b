import type http from 'node:http';
import { abortReason } from '../../src/backoff.js';
import { ClusterseedError, ProtocolError, TimeoutError } from '../../src/errors.js';
import { describe, type KubeCall } from './call.js';

/*
 * Reading a response of the Kubernetes client (client.ts): a whole body (request()) or a watch's
 * newline-delimited JSON events (stream()). Both end at once when the signal aborts (the socket
 * destroyed), refuse more than MAX_RESPONSE_BYTES, and turn a connection lost mid-body into the
 * client's `lost` error (which knows whether the client was closed).
 */

/** A response larger than this is refused (a list page of 500 pods is a few MB). */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The client's error for a connection lost while reading the response of `call`. */
export type LostError = (call: KubeCall, err?: Error) => Error;

export function readAll(res: http.IncomingMessage, signal: AbortSignal, call: KubeCall, lost: LostError): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err?: unknown, text?: string) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(text!);
    };
    const onAbort = () => {
      res.destroy();
      finish(abortReason(signal));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy();
        finish(new ProtocolError(`${describe(call)}: response larger than ${MAX_RESPONSE_BYTES} bytes`, { retriable: false }));
        return;
      }
      chunks.push(c);
    });
    res.once('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) => finish(err instanceof ClusterseedError ? err : lost(call, err)));
    res.once('close', () => {
      if (!res.complete) finish(lost(call));
    });
  });
}

/**
 * Calls onEvent with each JSON line (chunk boundaries anywhere, even inside a UTF-8 sequence) until
 * the response ends; a line that is not JSON is a ProtocolError (its text scrubbed of tokens).
 */
export function readLines(
  res: http.IncomingMessage,
  signal: AbortSignal,
  call: KubeCall,
  onEvent: (event: unknown) => void,
  io: { lost: LostError; scrub: (text: string) => string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let pending = '';
    let idle: NodeJS.Timeout | undefined;
    const decoder = new TextDecoder('utf-8');
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        res.destroy();
        reject(err);
      } else resolve();
    };
    const onAbort = () => finish(abortReason(signal));
    const armIdle = () => {
      if (call.idleTimeoutMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => finish(new TimeoutError(`${describe(call)}: no data for ${call.idleTimeoutMs} ms`)), call.idleTimeoutMs);
      idle.unref();
    };
    const line = (text: string) => {
      const trimmed = text.trim();
      if (trimmed === '') return;
      let event: unknown;
      try {
        event = JSON.parse(trimmed);
      } catch {
        throw new ProtocolError(`${describe(call)}: a watch event is not valid JSON: ${JSON.stringify(io.scrub(trimmed.slice(0, 120)))}`, {
          hint: 'is discovery.apiServer a Kubernetes API server (and not a proxy that rewrites streams)?',
        });
      }
      onEvent(event);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    armIdle();
    res.on('data', (c: Buffer) => {
      if (settled) return;
      armIdle();
      pending += decoder.decode(c, { stream: true });
      if (pending.length > MAX_RESPONSE_BYTES) return finish(new ProtocolError(`${describe(call)}: a watch event is larger than ${MAX_RESPONSE_BYTES} bytes`));
      let nl: number;
      try {
        while (!settled && (nl = pending.indexOf('\n')) >= 0) {
          const text = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          line(text);
        }
      } catch (err) {
        finish(err);
      }
    });
    res.once('end', () => {
      try {
        pending += decoder.decode();
        line(pending);
        finish();
      } catch (err) {
        finish(err);
      }
    });
    res.on('error', (err) => finish(err instanceof ClusterseedError ? err : io.lost(call, err)));
    res.once('close', () => {
      if (!res.complete) finish(io.lost(call));
    });
  });
}

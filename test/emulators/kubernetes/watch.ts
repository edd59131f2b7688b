import type http from 'node:http';
import { withKind } from './objects.js';
import { matchesFields, matchesLabels, type FieldRequirement, type LabelRequirement } from './selectors.js';
import type { ChangeEvent, ClusterState, Resource } from './state.js';
import { tooOldResourceVersion } from './status.js';

/*
 * A watch as the API server streams it: 200, then newline-delimited {"type","object"} JSON.
 * - resourceVersion unset or "0": synthetic ADDED for every matching object, then changes;
 * - resourceVersion N: every change after N (replayed from history), then live changes; when N is
 *   older than the compaction point: one ERROR event carrying a 410 Expired Status, then the end;
 * - selectors filter per event with the watch cache's transitions: an object that starts matching
 *   arrives as ADDED, one that stops matching as DELETED;
 * - allowWatchBookmarks=true: BOOKMARK events every bookmarkIntervalMs with an otherwise empty object
 *   holding the current resourceVersion;
 * - timeoutSeconds ends the response cleanly (a client then re-watches from its last RV).
 */

export interface WatchSpec {
  resource: Resource;
  namespace?: string;
  labels: LabelRequirement[];
  fields: FieldRequirement[];
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  timeoutSeconds?: number;
  bookmarkIntervalMs: number;
}

export interface OpenWatch {
  end(): void;
}

type Out = { type: string; object: any };

function emptyObject(resource: Resource, rv: number): any {
  return resource === 'pods'
    ? { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv), creationTimestamp: null }, spec: { containers: null }, status: {} }
    : { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: String(rv), creationTimestamp: null }, spec: {} };
}

export function startWatch(state: ClusterState, spec: WatchSpec, res: http.ServerResponse, onEnd: () => void): OpenWatch {
  const inNamespace = (key: string) => spec.namespace === undefined || key.startsWith(`${spec.namespace}/`);
  const matches = (obj: any) => obj !== undefined && matchesLabels(spec.labels, obj.metadata?.labels) && matchesFields(spec.fields, obj);
  const translate = (e: ChangeEvent): Out | undefined => {
    if (e.resource !== spec.resource || !inNamespace(e.key)) return undefined;
    const now = matches(e.object);
    const before = matches(e.previous);
    const object = withKind(spec.resource, e.object);
    if (e.type === 'ADDED') return now ? { type: 'ADDED', object } : undefined;
    if (e.type === 'DELETED') return before ? { type: 'DELETED', object } : undefined;
    if (now && before) return { type: 'MODIFIED', object };
    if (now) return { type: 'ADDED', object };
    if (before) return { type: 'DELETED', object };
    return undefined;
  };

  let ended = false;
  let unsubscribe = () => {};
  let bookmarkTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    clearInterval(bookmarkTimer);
    clearTimeout(timeoutTimer);
    if (!res.writableEnded) res.end();
    onEnd();
  };
  const write = (o: Out) => {
    if (!ended && !res.writableEnded) res.write(`${JSON.stringify(o)}\n`);
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  res.on('close', end);

  const rvParam = spec.resourceVersion;
  if (rvParam === undefined || rvParam === '' || rvParam === '0') {
    for (const [key, obj] of state.snapshot(spec.resource) ?? []) {
      if (inNamespace(key) && matches(obj)) write({ type: 'ADDED', object: withKind(spec.resource, obj) });
    }
  } else {
    const rv = Number(rvParam);
    const backlog = Number.isInteger(rv) ? state.eventsSince(rv) : undefined;
    if (!backlog) {
      write({ type: 'ERROR', object: tooOldResourceVersion(Number.isInteger(rv) ? rv : 0, state.compactedRv) });
      end();
      return { end };
    }
    for (const e of backlog) {
      const out = translate(e);
      if (out) write(out);
    }
  }
  unsubscribe = state.subscribe((e) => {
    const out = translate(e);
    if (out) write(out);
  });
  if (spec.allowWatchBookmarks) {
    bookmarkTimer = setInterval(() => write({ type: 'BOOKMARK', object: emptyObject(spec.resource, state.resourceVersion) }), spec.bookmarkIntervalMs);
  }
  if (spec.timeoutSeconds !== undefined && spec.timeoutSeconds > 0) timeoutTimer = setTimeout(end, spec.timeoutSeconds * 1000);
  return { end };
}

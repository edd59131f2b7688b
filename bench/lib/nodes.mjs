// In-process lowest-address nodes for the benches, with per-node instrumentation:
//
// - each node is a full bootstrap() (its own management endpoint on its own 127.0.x.y host, the
//   file provider in a shared directory, the keep-alive prober, the conflict checks after the decision);
// - every bootstrap() runs inside an AsyncLocalStorage context holding its node index, so what its
//   timers, watches and promises do later is attributed to it: probe requests it SENDS (Node's
//   `http.client.request.start` channel) and discovery lookups it makes (`clusterseed:discovery`);
// - probe requests a node RECEIVES are counted at its endpoint (`http.server.request.start`, by the
//   local address, one 127.0.x.y host per node);
// - its view changes are the coordinator's debug line "discovered set changed" (one per changed
//   discovered set), caught by a per-node logger and time-stamped.
//
// Times are epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + now()), so
// nodes run in different processes (bench/lib/cluster.mjs shards) share one time line.
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics_channel from 'node:diagnostics_channel';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './paths.mjs';

const { bootstrap } = await import(pathToFileURL(path.join(root, 'dist/src/index.js')).href);

/** The i-th node's host: 127.0.x.y on Linux (a host per node), 127.0.0.1 elsewhere. */
export const host = (i) => (process.platform === 'linux' ? `127.0.${1 + Math.floor(i / 200)}.${10 + (i % 200)}` : '127.0.0.1');

/** Epoch ms, sub-ms resolution, comparable across the processes of one machine. */
export const now = () => performance.timeOrigin + performance.now();

const context = new AsyncLocalStorage();
/** node index → counters; filled by start(). */
const counters = new Map();
/** host → node index (requests received are attributed by the endpoint's local address). */
const byHost = new Map();
let unattributed = 0;

const counter = () => ({ sent: 0, received: 0, lookups: 0 });

diagnostics_channel.subscribe('http.client.request.start', () => {
  const c = counters.get(context.getStore());
  if (c) c.sent++;
  else unattributed++;
});
diagnostics_channel.subscribe('http.server.request.start', ({ request }) => {
  const c = counters.get(byHost.get(request.socket.localAddress));
  if (c) c.received++;
});
diagnostics_channel.subscribe('clusterseed:discovery', () => {
  const c = counters.get(context.getStore());
  if (c) c.lookups++;
  else unattributed++;
});

/** A copy of every node's counters (index → {sent, received, lookups}), and the events no node could be found for. */
export function snapshot() {
  return { nodes: Object.fromEntries([...counters].map(([i, c]) => [i, { ...c }])), unattributed };
}

/** Per-node differences between two snapshots. */
export function diff(before, after) {
  return Object.fromEntries(
    Object.entries(after.nodes).map(([i, c]) => {
      const b = before.nodes[i] ?? counter();
      return [i, { sent: c.sent - b.sent, received: c.received - b.received, lookups: c.lookups - b.lookups }];
    }),
  );
}

/**
 * Starts lowest-address node `i` of a cluster: bootstrap() in its own context. Resolves to
 * { node, result, startedAt, decidedAt, viewChanges: [{at, size}] } once it decided (and joined).
 */
export function startNode(i, { service, directory, discovery = {}, bootstrap: settings }) {
  const h = host(i);
  counters.set(i, counter());
  byHost.set(h, i);
  const viewChanges = [];
  const logger = {
    debug: (fields, msg) => {
      if (typeof msg === 'string' && msg.startsWith('discovered set changed')) viewChanges.push({ at: now(), size: fields.view.length });
    },
    info: () => {},
    warn: () => {},
    error: (fields, msg) => process.stderr.write(`node ${i}: ${msg ?? ''} ${JSON.stringify(fields)}\n`),
  };
  const startedAt = now();
  return context.run(i, () =>
    bootstrap({
      service,
      discovery: { ...discovery, method: 'file', directory },
      bootstrap: settings,
      management: { host: h, port: 0 },
      self: { host: h },
      join: async () => {},
      logger,
    }).then((node) => ({ node, result: node.result, startedAt, decidedAt: now(), viewChanges })),
  );
}

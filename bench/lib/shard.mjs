// A child process of bench/lib/cluster.mjs: runs some of a cluster's lowest-address nodes in-process
// (bench/lib/nodes.mjs) and reports over IPC. The cluster is split into shards only because one
// process may hold at most `ulimit -n` descriptors, and a full mesh of keep-alive probes needs two per
// pair of nodes (N = 200: 79,600).
import { now, snapshot, startNode } from './nodes.mjs';

let nodes = [];
const send = (m) => process.send(m);

process.on('message', async (m) => {
  try {
    if (m.type === 'start') {
      const pending = [];
      const firstAt = now();
      for (const i of m.indices) pending.push(startNode(i, m));
      const lastAt = now();
      send({ type: 'started', firstAt, lastAt });
      // Each decision is reported as it comes, so the parent sees the last one across shards.
      await Promise.all(
        pending.map((p, k) =>
          p.then((r) => {
            nodes.push(r);
            send({ type: 'decided', node: { i: m.indices[k], startedAt: r.startedAt, decidedAt: r.decidedAt, result: r.result, viewChanges: r.viewChanges } });
          }),
        ),
      );
    } else if (m.type === 'snapshot') {
      send({ type: 'snapshot', at: now(), snapshot: snapshot() });
    } else if (m.type === 'close') {
      const closing = nodes;
      nodes = [];
      await Promise.all(closing.map((r) => r.node.close()));
      send({ type: 'closed' });
      process.disconnect();
    }
  } catch (err) {
    send({ type: 'error', message: err?.stack ?? String(err) });
  }
});
send({ type: 'ready' });

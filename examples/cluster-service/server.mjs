// A tiny clustered service: nodes find each other with clusterseed (embedded `file` discovery, one
// machine) and keep a shared member list over plain HTTP. The cluster layer is deliberately small —
// the point is where `bootstrap()` fits: it decides whom to join; `join()` is the application's own.
//
//   node examples/cluster-service/server.mjs          (after `npm run build`; start it 2+ times,
//   NODE_HOST=127.0.0.2 node examples/…/server.mjs     each with its own NODE_HOST on Linux)
//
// Environment: NODE_HOST [127.0.0.1], MANAGEMENT_PORT [7626] (clusterseed's endpoint), APP_PORT [8080]
// (this service's own port, the same on every node, like a Pekko remoting port), CLUSTER_DIR
// [<tmp>/clusterseed-example], EXPECTED_NODES (optional fast path).
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { bootstrap, createStreamLogger } from 'clusterseed';

const host = process.env.NODE_HOST ?? '127.0.0.1';
const managementPort = Number(process.env.MANAGEMENT_PORT ?? 7626);
const appPort = Number(process.env.APP_PORT ?? 8080);
const expected = process.env.EXPECTED_NODES ? Number(process.env.EXPECTED_NODES) : undefined;
const id = (p) => `${p.host}:${p.port}`; // a member is named by its clusterseed contact point
const self = { host, port: managementPort };

/** The membership this node knows, kept identical on all nodes by pushing it on every change. */
const members = new Map([[id(self), self]]);
const log = (event) => process.stdout.write(`${JSON.stringify({ node: id(self), ...event })}\n`);

async function post(member, route, body) {
  const res = await fetch(`http://${member.host}:${appPort}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(2000),
  });
  if (!res.ok) throw new Error(`${route} on ${id(member)}: HTTP ${res.status}`);
  return res.json();
}

function merge(list) {
  const before = members.size;
  for (const m of list) members.set(id(m), { host: m.host, port: m.port });
  if (members.size !== before) log({ event: 'members', members: [...members.keys()].sort() });
}

/** Tells every other member the full list (idempotent; a failed push is retried by the next change). */
async function broadcast() {
  const list = [...members.values()];
  await Promise.allSettled(list.filter((m) => id(m) !== id(self)).map((m) => post(m, '/sync', { members: list })));
}

// The application's own cluster port: /join (ask a member to let us in) and /sync (the member list).
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const reply = (status, value) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    try {
      if (req.method === 'GET' && req.url === '/members') return reply(200, { members: [...members.keys()].sort() });
      if (req.method !== 'POST') return reply(405, { error: 'POST only' });
      const input = JSON.parse(body || '{}');
      if (req.url === '/join') {
        merge([input.member]);
        void broadcast();
        return reply(200, { members: [...members.values()] });
      }
      if (req.url === '/sync') {
        merge(input.members ?? []);
        return reply(200, { ok: true });
      }
      return reply(404, { error: 'not found' });
    } catch (err) {
      return reply(400, { error: String(err) });
    }
  });
});
await new Promise((resolve) => server.listen(appPort, host, resolve));

let node;
const shutdown = async () => {
  await node?.close(); // deregisters and stops clusterseed's endpoint
  server.close();
  process.exit(0);
};
// Installed before bootstrapping: a stop request can come at any time.
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

node = await bootstrap({
  service: 'example-cluster',
  discovery: { method: 'file', directory: process.env.CLUSTER_DIR ?? path.join(os.tmpdir(), 'clusterseed-example') },
  bootstrap: { requiredContactPoints: 2, ...(expected ? { expectedContactPoints: expected } : {}), bootstrapTimeoutMs: 60_000 },
  management: { host, port: managementPort },
  self,
  logger: createStreamLogger(process.stderr, { level: 'info' }),
  // The app's join: a node that formed the cluster is alone; the others ask the first seed (seeds[0])
  // to let them in, falling back to the other seeds.
  join: async (seeds) => {
    if (id(seeds[0]) === id(self)) return;
    for (const seed of seeds) {
      try {
        const reply = await post(seed, '/join', { member: self });
        merge(reply.members);
        return;
      } catch (err) {
        process.stderr.write(`join via ${id(seed)} failed: ${err.message}\n`);
      }
    }
    throw new Error(`could not join any of ${seeds.map(id).join(', ')}`);
  },
  // Reported to peers that probe us, so late joiners join the cluster we are in.
  members: () => [...members.values()],
});

log({ event: 'bootstrapped', firstSeed: id(node.result.seeds[0]), formedNewCluster: node.result.formedNewCluster });

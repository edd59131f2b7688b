// The CPU cost of one probe exchange, and the floor it sets for in-process formation.
//
// P management endpoints and P keep-alive probe transports (the ones bootstrap() uses), all in this
// process, each transport asking its endpoint for the state as fast as answers come (no hold, no
// coordinator): exchanges per second and CPU microseconds per exchange, both ends included. A
// lowest-address formation of N nodes needs at least one exchange per ordered pair, N(N − 1), so on
// one event loop it cannot take less than N(N − 1) × that cost; the bench prints the floor for
// N = 10, 50 and 200 next to the figures of docs/performance.md.
import { startEndpoint } from '../dist/src/bootstrap/endpoint.js';
import { createHttpProbeTransport } from '../dist/src/bootstrap/prober.js';
import { silentLogger } from '../dist/src/logger.js';

const MS = Number(process.env.MS ?? 3000);
const view = Array.from({ length: 200 }, (_, i) => ({ host: `127.0.1.${10 + (i % 200)}`, port: 7626 }));
const report = { self: view[0], seedNodes: [], lowest: view[0], view: view.length, members: 0 };
const host = (i) => (process.platform === 'linux' ? `127.0.2.${10 + i}` : '127.0.0.1');

async function measure(pairs, { fresh = false } = {}) {
  const endpoints = await Promise.all(
    Array.from({ length: pairs }, (_, i) => startEndpoint({ host: host(i), port: 0, report: () => report, logger: silentLogger })),
  );
  const transports = endpoints.map(() => createHttpProbeTransport({ defaultPort: 7626 }));
  try {
    // Warm-up: connections, JIT.
    await Promise.all(endpoints.map((e, i) => transports[i].probe({ host: e.host, port: e.port }, { signal: AbortSignal.timeout(5000) })));
    let exchanges = 0;
    const end = performance.now() + MS;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      endpoints.map(async (e, i) => {
        const target = { host: e.host, port: e.port };
        while (performance.now() < end) {
          // fresh: a first contact, on a connection opened for it (a new transport each time).
          const transport = fresh ? createHttpProbeTransport({ defaultPort: 7626 }) : transports[i];
          await transport.poll(target, { signal: AbortSignal.timeout(5000), etag: undefined, waitMs: 0 });
          if (fresh) await transport.close();
          exchanges++;
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: exchanges / seconds, cpuUs: (used.user + used.system) / exchanges };
  } finally {
    await Promise.all(transports.map((t) => t.close()));
    await Promise.all(endpoints.map((e) => e.close()));
  }
}

console.log('# one probe exchange (endpoint + keep-alive transport, both in this process)');
const rows = [];
for (const pairs of [1, 20, 100]) {
  const r = await measure(pairs);
  rows.push(r);
  console.log(`${String(pairs).padStart(3)} connections: ${Math.round(r.perSecond)} exchanges/s, ${Math.round(r.cpuUs)} µs CPU per exchange`);
}
const first = await measure(20, { fresh: true });
console.log(` 20 first contacts at a time (a new connection each): ${Math.round(first.perSecond)} exchanges/s, ${Math.round(first.cpuUs)} µs CPU per exchange`);
const cost = Math.min(...rows.map((r) => r.cpuUs));
console.log(`\n# floor of one in-process formation round on one event loop: N(N − 1) exchanges`);
console.log(`# (reused connections × ${Math.round(cost)} µs; first contacts × ${Math.round(first.cpuUs)} µs)`);
for (const n of [10, 50, 200]) {
  const pairs = n * (n - 1);
  console.log(
    `N = ${n}: ${pairs} exchanges → ${Math.round((pairs * cost) / 1000)} ms of CPU reused, ${Math.round((pairs * first.cpuUs) / 1000)} ms as first contacts`,
  );
}

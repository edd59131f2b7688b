// What the lock-formation benches (consul, registries) share: loading the built library and the
// TypeScript test servers/emulators, the ConstructR-style comparison loop, and starting n nodes at
// once and measuring formation (last node started → all nodes decided).
import { register } from 'tsx/esm/api';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Imports TypeScript modules of the repository (test emulators/servers) through tsx. */
export async function importTs(...relativePaths) {
  const unregister = register();
  try {
    return await Promise.all(relativePaths.map((p) => import(pathToFileURL(path.join(root, p)).href)));
  } finally {
    await unregister();
  }
}

const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { runLockStrategy } = await dist('src/lock/lock-strategy.js');
const { Config } = await dist('src/config/schema.js');
const { systemClock } = await dist('src/clock.js');
const { silentLogger } = await dist('src/logger.js');
export const { createDiscovery } = await dist('src/registry.js');

export const CONSTRUCTR_RETRY_MS = 3000;

/** ConstructR's coordination loop, on the same SeedLock primitives, with its fixed retry delay. */
export async function constructrNode(provider, service, self) {
  const registration = await provider.register(self, { service });
  const lock = provider.seedLock();
  const opts = { service };
  for (;;) {
    const record = await lock.readRecord(opts);
    const first = record.firstSeed?.point;
    const seeds = first ? [first, ...record.members.filter((m) => m.port !== first.port)].slice(0, 5) : record.members.slice(0, 5);
    if (seeds.length > 0) {
      await lock.addMember(self, opts);
      return { result: { seeds, formedNewCluster: false }, close: () => registration.close() };
    }
    const held = await lock.tryLock(self, opts);
    if (held) {
      // The fenced write fails when someone wrote first-seed since this node read: read again.
      const written = await held.writeFirstSeed({ point: self }, undefined, opts);
      if (!written) {
        await held.release();
        continue;
      }
      await lock.addMember(self, opts);
      await held.release();
      return { result: { seeds: [self], formedNewCluster: true }, close: () => registration.close() };
    }
    await new Promise((r) => setTimeout(r, CONSTRUCTR_RETRY_MS));
  }
}

/**
 * Starts one node per provider at once (127.0.0.1:20000+i) with the `lock` strategy or the ConstructR
 * loop and waits until all decided. Returns the outcomes, the formation time (last start → last
 * decision, ms), this process's CPU meanwhile, and the number of clusters formed / distinct first
 * seeds (both 1 when correct).
 */
export async function formCluster(providers, { service, discovery, mode }) {
  const decidedAt = [];
  const started = [];
  const cpu = process.cpuUsage();
  let cpuAtLastDecision;
  const outcomes = await Promise.all(
    providers.map((provider, i) => {
      const self = { host: '127.0.0.1', port: 20_000 + i };
      started[i] = performance.now();
      const run =
        mode === 'lock'
          ? runLockStrategy({
              config: Config.parse({ service, discovery, bootstrap: { strategy: 'lock' }, management: { port: 0 } }),
              provider,
              self,
              join: async () => {},
              logger: silentLogger,
              clock: systemClock,
              signal: AbortSignal.timeout(120_000),
              startedAt: Date.now(),
            })
          : constructrNode(provider, service, self);
      return run.then((outcome) => {
        decidedAt[i] = performance.now();
        cpuAtLastDecision = process.cpuUsage(cpu);
        return outcome;
      });
    }),
  );
  const firstStart = Math.min(...started);
  const wallMs = Math.max(...decidedAt) - firstStart;
  const cpuMs = (cpuAtLastDecision.user + cpuAtLastDecision.system) / 1000;
  return {
    outcomes,
    ms: Math.round(Math.max(...decidedAt) - Math.max(...started)),
    // This process's CPU from the first start to the last decision (every client, and the emulator
    // where it runs here), against the wall time: near 100 % of a core, the clients wait for the CPU.
    cpu: { ms: Math.round(cpuMs), percentOfWall: Math.round((100 * cpuMs) / wallMs) },
    formers: outcomes.filter((o) => o.result.formedNewCluster).length,
    firstSeeds: new Set(outcomes.map((o) => `${o.result.seeds[0].host}:${o.result.seeds[0].port}`)).size,
  };
}

/** Closes the nodes' registrations, then their providers. */
export async function closeNodes(outcomes, providers) {
  await Promise.all(outcomes.map((o) => o.close()));
  await Promise.all(providers.map((p) => p.close()));
}

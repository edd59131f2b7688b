import { createDiscovery } from '../../../dist/src/index.js';
import { hostPort, type Point } from './fleet.js';

/*
 * The test's own view of a lock registry: who is registered and what the cluster record says. It uses
 * the built package, like the node processes, so the test and the nodes read the record the same way.
 */

export interface RecordView {
  /** first-seed as host:port (undefined: no cluster recorded). */
  firstSeed: string | undefined;
  /** The formation id of the record, when the build writes one. */
  cluster: string | undefined;
  members: string[];
}

interface RawRecord {
  // A ContactPoint in builds before the fenced write; { point, cluster } after it.
  firstSeed?: Point | { point: Point; cluster?: string };
  members: Point[];
}
interface Readable {
  resolve(lookup: { service: string }): Promise<Point[]>;
  seedLock(): { readRecord(options: { service: string }): Promise<RawRecord> };
  close(): Promise<void>;
}

export interface RegistryView {
  /** The registered (live) nodes of `service`, as host:port. */
  registered(service: string): Promise<string[]>;
  record(service: string): Promise<RecordView>;
  close(): Promise<void>;
}

export async function openRegistryView(discovery: Record<string, unknown>): Promise<RegistryView> {
  const provider = (await createDiscovery(discovery as never)) as unknown as Readable;
  return {
    registered: async (service) => (await provider.resolve({ service })).map(hostPort),
    record: async (service) => {
      const raw = await provider.seedLock().readRecord({ service });
      const fs = raw.firstSeed;
      const point = fs === undefined ? undefined : 'point' in fs ? fs.point : fs;
      const cluster = fs !== undefined && 'point' in fs ? fs.cluster : undefined;
      return { firstSeed: point && hostPort(point), cluster, members: raw.members.map(hostPort) };
    },
    close: () => provider.close(),
  };
}

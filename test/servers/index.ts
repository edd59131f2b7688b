import { inject } from 'vitest';
import type { TestServersInfo } from './global-setup.js';

export type { TestServersInfo };

/** For the beforeAll that calls getTestServers(): installing on a fresh machine can take minutes. */
export const SERVERS_TIMEOUT_MS = 15 * 60_000;

let cached: Promise<TestServersInfo> | undefined;

/** Addresses of the real ZooKeeper and etcd started for this run (see global-setup.ts). */
export function getTestServers(): Promise<TestServersInfo> {
  cached ??= (async () => {
    const url = inject('testServersUrl');
    if (!url) throw new Error('test servers: the globalSetup test/servers/global-setup.ts did not run (see vitest.config.ts)');
    // Installing the packages can take minutes on a fresh machine; starting takes seconds.
    const res = await fetch(`${url}/servers`, { signal: AbortSignal.timeout(SERVERS_TIMEOUT_MS) });
    const body = await res.text();
    if (!res.ok) throw new Error(`test servers could not be started: ${body}`);
    return JSON.parse(body) as TestServersInfo;
  })();
  return cached;
}

import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../../src/clock.js';
import { KubernetesClient } from '../../providers/kubernetes-api/client.js';
import { ServiceAccountToken } from '../../providers/kubernetes-api/token.js';
import type { KubernetesEmulator } from '../emulators/kubernetes/index.js';

/* Shared by test/kubernetes/provider-*.test.ts: the provider's own client over the emulator's HTTPS. */

export const LIST_PODS = { verb: 'list', resource: 'pods', apiGroup: '' } as const;
export const podsPath = (ns = 'default') => `/api/v1/namespaces/${ns}/pods`;

/** A clock whose time is set by the test; timers are real (sleeps in retries still run). */
export function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => t, monotonic: () => t, setTimeout: systemClock.setTimeout, advance: (ms) => void (t += ms) };
}

export function clientFor(emu: KubernetesEmulator, o: { clock?: Clock; ca?: string; apiServer?: string } = {}): KubernetesClient {
  const clock = o.clock ?? systemClock;
  return new KubernetesClient({
    apiServer: o.apiServer ?? emu.url,
    namespace: 'default',
    ca: o.ca ?? readFileSync(emu.caFile, 'utf8'),
    token: new ServiceAccountToken(emu.tokenFile, { clock }),
    clock,
  });
}

/** Every token the emulator has handed out, to check that none leaks into an error. */
export function tokensOf(emu: KubernetesEmulator, seen: Set<string>): Set<string> {
  seen.add(emu.token);
  return seen;
}

export function errorText(err: unknown): string {
  const e = err as { message?: string; hint?: string; stack?: string; cause?: unknown };
  return [e.message, e.hint, e.stack, JSON.stringify(e), e.cause ? String(e.cause) : ''].join('\n');
}

export function runningPod(i: number, extra: Record<string, unknown> = {}) {
  return {
    name: `web-${i}`,
    labels: { app: 'web' },
    podIP: `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    nodeName: `node-${i % 3}`,
    containers: [
      {
        name: 'app',
        ports: [
          { name: 'management', containerPort: 7626 },
          { name: 'http', containerPort: 8080 },
        ],
      },
    ],
    ...extra,
  };
}

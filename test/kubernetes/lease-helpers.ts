import { readFileSync } from 'node:fs';
import https from 'node:https';
import { systemClock, type Clock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { LEASE_API, type LeaseApi, type LeaseApiCall } from '../../providers/kubernetes-api/lease-api.js';
import { KubernetesLeaseLock, type LeaseLockSettings } from '../../providers/kubernetes-api/lease-lock.js';
import type { KubernetesEmulator } from '../emulators/kubernetes/index.js';
import type { ContactPoint } from '../../src/types.js';

/**
 * A bare HTTPS LeaseApi over the emulator (TLS verified against its CA, bearer token), so the lock's
 * tests do not depend on the provider's client; the provider wiring test runs the real client.
 */
export function rawApi(emu: KubernetesEmulator): LeaseApi & { calls: LeaseApiCall[] } {
  const ca = readFileSync(emu.caFile);
  const calls: LeaseApiCall[] = [];
  const url = new URL(emu.url);
  return {
    calls,
    request(call) {
      calls.push(call);
      return new Promise((resolve, reject) => {
        const body = call.body === undefined ? undefined : JSON.stringify(call.body);
        const req = https.request(
          {
            host: url.hostname,
            port: url.port,
            path: call.path,
            method: call.method,
            ca,
            headers: {
              authorization: `Bearer ${readFileSync(emu.tokenFile, 'utf8').trim()}`,
              accept: 'application/json',
              ...(body ? { 'content-type': 'application/json' } : {}),
            },
            signal: call.signal ?? AbortSignal.timeout(call.timeoutMs ?? 10_000),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
              if ((status >= 200 && status < 300) || call.accept?.includes(status)) resolve({ status, body: parsed });
              else reject(Object.assign(new Error(`HTTP ${status} ${call.method} ${call.path}: ${text.slice(0, 200)}`), { status }));
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
  };
}

/** A system clock whose monotonic time can be pushed forward: "leaseDuration passed" without waiting. */
export function skewableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    monotonic: () => performance.now() + offset,
    setTimeout: systemClock.setTimeout,
    advance: (ms) => void (offset += ms),
  };
}

export function makeLock(api: LeaseApi, settings: Partial<LeaseLockSettings> = {}, deps: { clock?: Clock; livePods?: () => Promise<ContactPoint[]> } = {}) {
  return new KubernetesLeaseLock(
    api,
    { namespace: 'default', leaseDurationSeconds: 2, pollIntervalMs: 100, ...settings },
    {
      clock: deps.clock ?? systemClock,
      logger: silentLogger,
      livePods: deps.livePods ?? (async () => []),
    },
  );
}

export const leasePath = (name: string, namespace = 'default') => `${LEASE_API}/namespaces/${namespace}/leases/${name}`;

/** Rewrites a Lease behind the lock's back (another writer), CAS on its current version. */
export async function tamper(api: LeaseApi, name: string, mutate: (lease: any) => void): Promise<void> {
  const { body } = await api.request({ method: 'GET', path: leasePath(name), rbac: { verb: 'get', resource: 'leases', apiGroup: 'coordination.k8s.io' } });
  mutate(body);
  await api.request({ method: 'PUT', path: leasePath(name), body, rbac: { verb: 'update', resource: 'leases', apiGroup: 'coordination.k8s.io' } });
}

export const point = (i: number, port = 7626): ContactPoint => ({ host: `10.0.0.${i}`, port });

import net from 'node:net';
import { normalizeHost } from '../address.js';
import { MetadataError } from '../errors.js';
import { resolveInterfaceAddress } from './interface.js';
import type { SelfAddress } from './index.js';

/** Set by the downward API (`fieldRef: status.podIP`), see docs/providers/kubernetes-api.md. */
export const POD_IP_ENV = 'POD_IP';

/** Kubernetes sets these in every container; `auto` takes them as "we run in a pod". */
export const KUBERNETES_ENV = 'KUBERNETES_SERVICE_HOST';

/**
 * mode=kubernetes (DESIGN §5.4): POD_IP from the downward API, else the pod's single interface
 * (a pod has one network namespace, so its interface is the pod IP). A POD_IP that is not an IP is
 * an error, never advertised: peers would find a pod IP and never match it.
 */
export function resolveKubernetesSelfAddress(options: { env?: Readonly<Record<string, string | undefined>>; interface?: string }): SelfAddress {
  const env = options.env ?? process.env;
  const podIp = env[POD_IP_ENV]?.trim();
  if (podIp) {
    if (net.isIP(podIp) === 0) {
      throw new MetadataError(`${POD_IP_ENV}: expected the pod's IP address, got ${JSON.stringify(podIp.slice(0, 64))}`, {
        retriable: false,
        hint: 'set it with the downward API: env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]',
      });
    }
    return { host: normalizeHost(podIp), source: 'kubernetes-pod-ip' };
  }
  return { host: resolveInterfaceAddress(options.interface), source: 'kubernetes-interface' };
}

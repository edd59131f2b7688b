/*
 * The Kubernetes world of the guides: one emulated API server (test/emulators/kubernetes) that knows a
 * Running pod per node, and per node what a pod's container sees — the in-cluster environment
 * (KUBERNETES_SERVICE_HOST/PORT), the service-account files under its own root, and the downward
 * API values its Deployment's env asks for.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import type { Env, World } from './worlds.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The namespace of the guide's Role, RoleBinding and Deployment (checked by the test). */
export const KUBERNETES_NAMESPACE = 'shop';
/** Pod IPs: a separate 127.0.0.x range per world, so each node can bind its own management port. */
export const podIp = (node: number) => `127.0.0.${141 + node}`;
export const podName = (node: number) => `orders-${node}`;
const nodeName = (node: number) => `worker-${node}`;

/** The part of a Deployment's pod template that the world turns into pods. */
export interface PodTemplate {
  labels: Record<string, string>;
  serviceAccountName?: string;
  containers: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[];
}

/** Without a Deployment on the page: the pod the brief of every guide assumes. */
const DEFAULT_TEMPLATE: PodTemplate = {
  labels: { app: 'orders' },
  containers: [{ name: 'orders', ports: [{ name: 'management', containerPort: 7626, protocol: 'TCP' }] }],
};

export interface KubernetesWorld extends World {
  readonly emulator: KubernetesEmulator;
  /** The value the downward API gives a pod's `fieldRef.fieldPath`. */
  fieldRef(node: number, fieldPath: string): string;
}

export async function kubernetesWorld(
  base: { bin: string; roots: string[]; env: (node: number) => Env },
  template: PodTemplate = DEFAULT_TEMPLATE,
): Promise<KubernetesWorld> {
  const emulator = await startKubernetesEmulator({ namespaces: ['default', KUBERNETES_NAMESPACE] });
  const { roots } = base;
  for (const [n, root] of roots.entries()) {
    emulator.addPod({
      name: podName(n),
      namespace: KUBERNETES_NAMESPACE,
      labels: template.labels,
      phase: 'Running',
      ready: true,
      podIP: podIp(n),
      nodeName: nodeName(n),
      containers: template.containers,
    });
    // The pod's service-account mount. The token and CA are links to the emulator's files, so a
    // rotated token is seen at once (the kubelet swaps a projected volume's files the same way).
    const dir = path.join(root, SERVICE_ACCOUNT_DIR);
    await mkdir(dir, { recursive: true });
    await symlink(emulator.tokenFile, path.join(dir, 'token'));
    await symlink(emulator.caFile, path.join(dir, 'ca.crt'));
    await writeFile(path.join(dir, 'namespace'), KUBERNETES_NAMESPACE);
  }
  const fieldRef = (n: number, fieldPath: string): string => {
    const values: Record<string, string> = {
      'metadata.name': podName(n),
      'metadata.namespace': KUBERNETES_NAMESPACE,
      'spec.nodeName': nodeName(n),
      'spec.serviceAccountName': template.serviceAccountName ?? 'default',
      'status.podIP': podIp(n),
      'status.podIPs': podIp(n),
    };
    const v = values[fieldPath];
    if (v === undefined) throw new Error(`the guides' kubernetes world has no downward API value for fieldPath "${fieldPath}"`);
    return v;
  };
  return {
    emulator,
    fieldRef,
    root: (n) => roots[n]!,
    env: (n) => ({
      ...base.env(n),
      AWS_EC2_METADATA_DISABLED: 'true',
      KUBERNETES_SERVICE_HOST: emulator.host,
      KUBERNETES_SERVICE_PORT: String(emulator.port),
    }),
    patchConfig: (c, n) => {
      const patched: Record<string, unknown> = {
        ...c,
        // Pods have their own IPs; on one test machine "0.0.0.0:7626" would be shared by all nodes.
        management: { ...(c.management as object), host: podIp(n) },
      };
      const d = c.discovery as Record<string, unknown> | undefined;
      if (d?.method === 'kubernetes-api' || d?.method === 'pekko-kubernetes-api') {
        // The defaults are absolute (/var/run/secrets/…) and a test process has no root of its own:
        // point them at the same files inside this node's root. A value the guide sets is mapped too.
        const sa = (file: string, key: string) => {
          const given = d[key];
          return typeof given === 'string' ? path.join(roots[n]!, given) : path.join(roots[n]!, SERVICE_ACCOUNT_DIR, file);
        };
        patched.discovery = { ...d, tokenFile: sa('token', 'tokenFile'), caFile: sa('ca.crt', 'caFile'), namespaceFile: sa('namespace', 'namespaceFile') };
      }
      return patched;
    },
    apiActions: () => [...new Set(emulator.requests.map((r) => `${r.method} ${r.path}`))],
    apiCalls: (action) => emulator.requests.filter((r) => `${r.method} ${r.path}` === action).length,
    close: () => emulator.close(),
  };
}

/** One (verb, resource, API group, namespace) an RBAC rule must allow, from one API request. */
export interface RbacUse {
  verb: string;
  resource: string;
  apiGroup: string;
  /** undefined: cluster-scoped (a Role cannot grant it) */
  namespace: string | undefined;
}

/**
 * What the API server's authorizer checks for a request (the verbs of "kubectl auth can-i"):
 * GET collection → list (watch=1|true → watch), GET one → get, POST → create, PUT → update,
 * PATCH → patch, DELETE one → delete, DELETE collection → deletecollection. Discovery paths
 * (/api, /apis, /version) are non-resource URLs every authenticated user may read: undefined.
 */
export function rbacUse(r: { method: string; path: string; query: Record<string, string> }): RbacUse | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(r.path);
  if (!m) return undefined;
  const [, group = '', namespace, resource, name, sub] = m;
  const one = name !== undefined;
  const watch = r.query.watch === '1' || r.query.watch === 'true';
  const verbs: Record<string, string> = {
    GET: watch ? 'watch' : one ? 'get' : 'list',
    POST: 'create',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: one ? 'delete' : 'deletecollection',
  };
  const verb = verbs[r.method];
  if (!verb) throw new Error(`no RBAC verb for ${r.method} ${r.path}`);
  return { verb, resource: sub ? `${resource}/${sub}` : resource!, apiGroup: group, namespace: namespace ? decodeURIComponent(namespace) : undefined };
}

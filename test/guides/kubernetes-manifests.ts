/*
 * The guides' Kubernetes manifests, read the way the API server and the kubelet read them: a
 * Deployment's first container becomes a process per node (command + args, env with `$(VAR)`
 * expansion and the downward API), and a Role's rules are matched against the requests the nodes made.
 */
import { load, loadAll } from 'js-yaml';
import type { PodTemplate, RbacUse } from './kubernetes-world.js';
import type { Env } from './worlds.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; [other: string]: unknown };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
}
export interface Deployment {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { serviceAccountName?: string; containers: Container[] } };
  };
}

export function parseDeployment(body: string): Deployment {
  const d = load(body) as Deployment;
  if (d?.apiVersion !== 'apps/v1' || d.kind !== 'Deployment') throw new Error('expected an apps/v1 Deployment');
  if (!d.spec?.template?.spec?.containers?.length) throw new Error('the Deployment has no containers');
  return d;
}

export function podTemplate(d: Deployment): PodTemplate {
  const t = d.spec.template;
  return {
    labels: t.metadata.labels,
    ...(t.spec.serviceAccountName !== undefined ? { serviceAccountName: t.spec.serviceAccountName } : {}),
    containers: t.spec.containers.map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports } : {}) })),
  };
}

/** Kubernetes' `$(VAR)` expansion of command, args and env values: `$$` escapes, unknown names stay. */
export function expand(text: string, env: Env): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) => {
    if (name === undefined) return '$';
    return env[name] ?? all;
  });
}

/**
 * The first container's process as the kubelet starts it: argv = command + args (no image
 * ENTRYPOINT to fall back on, so `command` is required), env = the container's env on top of
 * `baseEnv`, each `$(VAR)` expanded from the variables defined before it.
 */
export function containerProcess(d: Deployment, baseEnv: Env, fieldRef: (fieldPath: string) => string): { argv: string[]; env: Env } {
  const c = d.spec.template.spec.containers[0]!;
  if (!c.command?.length) throw new Error(`container "${c.name}" needs a command (the test has no image ENTRYPOINT)`);
  const defined: Env = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) defined[v.name] = expand(v.value, defined);
    else if (v.valueFrom?.fieldRef) defined[v.name] = fieldRef(v.valueFrom.fieldRef.fieldPath);
    else throw new Error(`env ${v.name}: only value and valueFrom.fieldRef are supported in the guides`);
  }
  const argv = [...c.command, ...(c.args ?? [])].map((a) => expand(a, defined));
  return { argv, env: { ...baseEnv, ...defined } };
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
interface RbacObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  subjects?: { kind: string; name: string; namespace?: string }[];
  roleRef?: { apiGroup: string; kind: string; name: string };
}

export interface Rbac {
  role: RbacObject;
  binding: RbacObject;
  /** every (apiGroup, resource, verb) the Role grants, as "group/resource:verb" ('' = core) */
  grants: string[];
  others: RbacObject[];
}

export const grantKey = (u: { apiGroup: string; resource: string; verb: string }) => `${u.apiGroup}/${u.resource}:${u.verb}`;

export function parseRbac(body: string): Rbac {
  const docs = loadAll(body).filter((d) => d != null) as RbacObject[];
  const roles = docs.filter((d) => d.kind === 'Role' && d.apiVersion === 'rbac.authorization.k8s.io/v1');
  const bindings = docs.filter((d) => d.kind === 'RoleBinding' && d.apiVersion === 'rbac.authorization.k8s.io/v1');
  if (roles.length !== 1 || bindings.length !== 1) throw new Error('expected exactly one Role and one RoleBinding (rbac.authorization.k8s.io/v1)');
  const role = roles[0]!;
  const grants: string[] = [];
  for (const r of role.rules ?? []) {
    // A wildcard or a resourceNames restriction would make "allows exactly" meaningless here.
    for (const list of [r.apiGroups, r.resources, r.verbs])
      if (!list?.length || list.includes('*')) throw new Error('Role rules must list apiGroups, resources and verbs without "*"');
    if (r.resourceNames?.length) throw new Error('resourceNames are not checked by the guides test');
    for (const g of r.apiGroups!) for (const res of r.resources!) for (const v of r.verbs!) grants.push(grantKey({ apiGroup: g, resource: res, verb: v }));
  }
  return { role, binding: bindings[0]!, grants: [...new Set(grants)].sort(), others: docs.filter((d) => d !== role && d !== bindings[0]) };
}

/** The distinct rule keys a set of requests needs, with the namespaces they were made in. */
export function neededGrants(uses: readonly RbacUse[]): { keys: string[]; namespaces: (string | undefined)[] } {
  return {
    keys: [...new Set(uses.map(grantKey))].sort(),
    namespaces: [...new Set(uses.map((u) => u.namespace))],
  };
}

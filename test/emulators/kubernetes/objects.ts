import type { PodInput } from './types.js';

/*
 * Wire shapes of the objects: a Pod as the kubelet reports it (phase, podIP(s), Ready condition,
 * containerStatuses) and Lease time fields normalised to MicroTime (RFC 3339, 6 fractional digits,
 * UTC) as the API server stores them whatever precision the client sent.
 */

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function podFromInput(p: PodInput): any {
  const namespace = p.namespace ?? 'default';
  const ready = p.ready ?? true;
  const phase = p.phase ?? 'Running';
  const containers = (p.containers ?? [{ name: 'app' }]).map((c) => ({
    name: c.name,
    image: 'registry.k8s.io/pause:3.9',
    ...(c.ports
      ? { ports: c.ports.map((port) => ({ ...(port.name ? { name: port.name } : {}), containerPort: port.containerPort, protocol: port.protocol ?? 'TCP' })) }
      : {}),
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  }));
  const started = now();
  const statuses = containers.map((c) => {
    const given = p.containerStatuses?.find((s) => s.name === c.name);
    const state = given?.state ?? (phase === 'Running' ? { running: { startedAt: started } } : { waiting: { reason: 'ContainerCreating' } });
    return {
      name: c.name,
      state,
      lastState: {},
      ready: given?.ready ?? (ready && state.running !== undefined),
      restartCount: 0,
      image: c.image,
      imageID: '',
      started: state.running !== undefined,
    };
  });
  const extra = p.containerStatuses?.filter((s) => !containers.some((c) => c.name === s.name)) ?? [];
  for (const s of extra)
    statuses.push({
      name: s.name,
      state: s.state ?? {},
      lastState: {},
      ready: s.ready ?? false,
      restartCount: 0,
      image: '',
      imageID: '',
      started: false,
    } as any);
  const metadata: Record<string, unknown> = { name: p.name, namespace };
  if (p.labels) metadata.labels = { ...p.labels };
  if (p.deletionTimestamp) {
    metadata.deletionTimestamp = p.deletionTimestamp;
    metadata.deletionGracePeriodSeconds = 30;
  }
  const status: Record<string, unknown> = {
    phase,
    conditions: [
      { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: started },
      { type: 'Ready', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: started },
      { type: 'ContainersReady', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: started },
      { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: started },
    ],
    qosClass: 'BestEffort',
  };
  if (p.nodeName) status.hostIP = '10.0.0.1';
  if (p.podIP) {
    status.podIP = p.podIP;
    status.podIPs = [{ ip: p.podIP }];
  }
  status.startTime = started;
  status.containerStatuses = statuses;
  return {
    metadata,
    spec: {
      containers,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'default',
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
      schedulerName: 'default-scheduler',
    },
    status,
  };
}

const MICRO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** MicroTime as the server serialises it; undefined when the input is not RFC 3339. */
export function microTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = MICRO.exec(value);
  if (!m) return undefined;
  const whole = new Date(`${m[1]}${m[3]}`);
  if (Number.isNaN(whole.getTime())) return undefined;
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return `${whole.toISOString().slice(0, 19)}.${fraction}Z`;
}

/** withKind: single-object GETs and watch events carry kind/apiVersion; list items do not. */
export function withKind(resource: 'pods' | 'leases', object: any): any {
  return resource === 'pods' ? { kind: 'Pod', apiVersion: 'v1', ...object } : { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', ...object };
}

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCertificates } from './certs.js';
import { podFromInput } from './objects.js';
import { KubeApiServer } from './server.js';
import { ClusterState, keyOf } from './state.js';
import type { EmulatorFaults, KubernetesEmulator, KubernetesEmulatorOptions, PodInput } from './types.js';
import { withKind } from './objects.js';

/*
 * A wire-level Kubernetes API server emulator over HTTPS (see server.ts for the wire, paging.ts and
 * watch.ts for list/watch semantics). Checked against real clients nobody here wrote — Debian's
 * kubectl 1.20 and @kubernetes/client-node 1.4 — in test/kubernetes/emulator-*.test.ts.
 *
 * Start-up makes a temp dir holding the test CA + server key (openssl), a pod-style service-account
 * mount (token, ca.crt, namespace) and kubeconfigs; close() removes it and destroys every socket.
 */

export type { EmulatorFaults, EmulatorRequest, KubernetesEmulator, KubernetesEmulatorOptions, PodInput } from './types.js';

const newToken = () => `emu.${randomBytes(24).toString('base64url')}`;

/** Atomic replace, as the kubelet swaps a projected token: a reader never sees a half-written file. */
function writeAtomic(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

export async function startKubernetesEmulator(opts: KubernetesEmulatorOptions = {}): Promise<KubernetesEmulator> {
  const host = opts.host ?? '127.0.0.1';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clusterseed-k8s-emulator-'));
  const certs = await makeCertificates(dir, host);
  const serviceAccountDir = path.join(dir, 'serviceaccount');
  mkdirSync(serviceAccountDir);
  const tokenFile = path.join(serviceAccountDir, 'token');
  const namespaceFile = path.join(serviceAccountDir, 'namespace');
  let token = newToken();
  writeAtomic(tokenFile, token);
  writeFileSync(path.join(serviceAccountDir, 'ca.crt'), certs.caPem);
  writeFileSync(namespaceFile, 'default');

  const namespaces = new Set(opts.namespaces ?? ['default']);
  const validTokens = new Set([token]);
  const state = new ClusterState();
  const server = new KubeApiServer(state, {
    host,
    cert: certs.certPem,
    key: certs.keyPem,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
    namespaces,
    validTokens,
  });
  await server.listen();
  const port = server.port;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let kubeconfigs = 0;
  let closed = false;

  const mustGet = (namespace: string, name: string) => {
    const pod = state.get('pods', keyOf(namespace, name));
    if (!pod) throw new Error(`emulator: no pod ${namespace}/${name}`);
    return pod;
  };
  const all = (resource: 'pods' | 'leases', namespace?: string) =>
    (state.snapshot(resource) ?? [])
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .map(([, o]) => withKind(resource, structuredClone(o)));

  const faults: EmulatorFaults = {
    get latencyMs() {
      return server.latencyMs;
    },
    set latencyMs(ms: number) {
      server.latencyMs = ms;
    },
    hang(match = () => true) {
      server.hangs.push(match);
    },
    malformed(match = () => true) {
      server.malformed.push(match);
    },
    throttle(count, retryAfterSeconds = 1) {
      server.throttle = { count, retryAfterSeconds };
    },
    expireContinueTokens() {
      server.pager.expireIssued();
    },
    compact() {
      state.compact();
      // Real etcd compaction leaves open watches alone, but in a real cluster they end anyway (request
      // timeout, apiserver restart); ending them here makes the next re-watch from an old RV meet the 410.
      server.endWatches();
    },
    clear() {
      server.latencyMs = 0;
      server.hangs.length = 0;
      server.malformed.length = 0;
      server.throttle = { count: 0, retryAfterSeconds: 1 };
      server.releaseHung();
    },
  };

  const emulator: KubernetesEmulator = {
    url,
    host,
    port,
    caFile: certs.caFile,
    serviceAccountDir,
    tokenFile,
    namespaceFile,
    get token() {
      return token;
    },
    async kubeconfig(o = {}) {
      kubeconfigs += 1;
      const file = path.join(dir, `kubeconfig-${kubeconfigs}.json`);
      // JSON is YAML: kubectl and client-node both read it.
      const config = {
        apiVersion: 'v1',
        kind: 'Config',
        preferences: {},
        clusters: [{ name: 'emulator', cluster: { server: url, 'certificate-authority': certs.caFile } }],
        users: [{ name: 'emulator', user: { token: o.token ?? token } }],
        contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator', namespace: o.namespace ?? 'default' } }],
        'current-context': 'emulator',
      };
      writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
      return file;
    },
    addPod(p: PodInput) {
      const namespace = p.namespace ?? 'default';
      if (state.get('pods', keyOf(namespace, p.name))) throw new Error(`emulator: pod ${namespace}/${p.name} already exists`);
      namespaces.add(namespace);
      state.put('pods', podFromInput(p));
    },
    updatePod(namespace, name, mutate) {
      const pod = mustGet(namespace, name);
      mutate(pod);
      pod.metadata.name = name;
      pod.metadata.namespace = namespace;
      state.put('pods', pod);
    },
    markDeleting(namespace, name) {
      const pod = mustGet(namespace, name);
      pod.metadata.deletionTimestamp = new Date(Date.now() + 30_000).toISOString().replace(/\.\d+Z$/, 'Z');
      pod.metadata.deletionGracePeriodSeconds = 30;
      state.put('pods', pod);
    },
    deletePod(namespace, name) {
      mustGet(namespace, name);
      state.remove('pods', keyOf(namespace, name));
    },
    pods: (namespace) => all('pods', namespace),
    lease(namespace, name) {
      const l = state.get('leases', keyOf(namespace, name));
      return l === undefined ? undefined : withKind('leases', l);
    },
    leases: (namespace) => all('leases', namespace),
    rotateToken(o = {}) {
      const old = token;
      token = newToken();
      validTokens.add(token);
      if (o.revokeOld) validTokens.delete(old);
      writeAtomic(tokenFile, token);
      return token;
    },
    revokeToken(t) {
      validTokens.delete(t);
    },
    deny(rule) {
      server.deny.push(rule);
    },
    allowAll() {
      server.deny.length = 0;
    },
    faults,
    requests: server.requests,
    resetRequests() {
      server.requests.length = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return emulator;
}

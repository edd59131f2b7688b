import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { ensureKubectl } from '../servers/kubectl.js';

/*
 * The emulator checked against a client nobody here wrote: Debian's kubectl 1.20 (client-go),
 * talking HTTPS to it with a kubeconfig whose certificate-authority is the emulator's test CA — TLS
 * is verified, there is no --insecure-skip-tls-verify anywhere. If kubectl and the emulator
 * disagree about the wire (discovery, selectors, paging, Status errors, watch framing), these fail.
 */

let emu: KubernetesEmulator;
let kubectlBin: string;
let kubeconfig: string;
let home: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function kubectl(args: string[], config = kubeconfig): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      kubectlBin,
      ['--kubeconfig', config, '--cache-dir', path.join(home, 'cache'), '--request-timeout=10s', ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const names = (r: Result) => (JSON.parse(r.stdout).items as { metadata: { name: string } }[]).map((i) => i.metadata.name).sort();

beforeAll(async () => {
  [kubectlBin, emu] = await Promise.all([ensureKubectl(), startKubernetesEmulator({ namespaces: ['default', 'other'] })]);
  home = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-kubectl-home-'));
  kubeconfig = await emu.kubeconfig();
  for (let i = 0; i < 7; i += 1) {
    emu.addPod({
      name: `web-${i}`,
      labels: { app: i < 5 ? 'web' : 'db', tier: i % 2 === 0 ? 'even' : 'odd' },
      podIP: `10.1.0.${i}`,
      phase: i === 6 ? 'Pending' : 'Running',
      nodeName: `node-${i % 2}`,
      containers: [{ name: 'app', ports: [{ name: 'management', containerPort: 8558 }] }],
    });
  }
  emu.addPod({ name: 'elsewhere', namespace: 'other', labels: { app: 'web' }, podIP: '10.2.0.1' });
});

afterAll(async () => {
  await emu?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('kubectl 1.20 (Debian kubernetes-client) against the emulator', () => {
  it('is the Debian 1.20 client and verifies the emulator certificate against the test CA only', async () => {
    const v = await kubectl(['version', '--client', '--short']);
    expect(v.stdout).toMatch(/Client Version: v1\.20\./);
    const wrongCa = path.join(home, 'wrong-ca.json');
    const config = JSON.parse(readFileSync(kubeconfig, 'utf8'));
    config.clusters[0].cluster['certificate-authority'] = '/etc/ssl/certs/ca-certificates.crt';
    writeFileSync(wrongCa, JSON.stringify(config));
    const r = await kubectl(['get', 'pods', '-o', 'name'], wrongCa);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/x509: certificate signed by unknown authority/);
  });

  it('gets pods with equality and set-based label selectors, and field selectors', async () => {
    const eq = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json']);
    expect(eq.code, eq.stderr).toBe(0);
    expect(names(eq)).toEqual(['web-0', 'web-1', 'web-2', 'web-3', 'web-4']);
    const set = await kubectl(['get', 'pods', '-l', 'app in (web,db),tier notin (odd),app!=db', '-o', 'json']);
    expect(names(set)).toEqual(['web-0', 'web-2', 'web-4']);
    const exists = await kubectl(['get', 'pods', '-l', 'tier,!missing', '-o', 'json']);
    expect(names(exists)).toHaveLength(7);
    const none = await kubectl(['get', 'pods', '-l', '!tier', '-o', 'json']);
    expect(names(none)).toEqual([]);
    const all = await kubectl(['get', 'pods', '--all-namespaces', '-l', 'app=web', '-o', 'json']);
    expect(names(all)).toEqual(['elsewhere', 'web-0', 'web-1', 'web-2', 'web-3', 'web-4']);
    const phase = await kubectl(['get', 'pods', '--field-selector', 'status.phase!=Running,spec.nodeName=node-0', '-o', 'json']);
    expect(names(phase)).toEqual(['web-6']);
    const bad = await kubectl(['get', 'pods', '--field-selector', 'spec.bogus=1']);
    expect(bad.code).not.toBe(0);
    // kubectl prefixes the server's message with its own "Unable to find … that match …" for selector gets
    expect(bad.stderr).toMatch(/^Error from server \(BadRequest\): .*field label not supported: spec\.bogus$/m);
    const badLabel = await kubectl(['get', 'pods', '-l', 'app in web']);
    expect(badLabel.code).not.toBe(0);
  });

  it('gets one pod by name as JSON, and a missing one as NotFound', async () => {
    const r = await kubectl(['get', 'pod', 'web-3', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const pod = JSON.parse(r.stdout);
    expect(pod).toMatchObject({
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: { name: 'web-3', namespace: 'default', labels: { app: 'web', tier: 'odd' } },
      spec: { nodeName: 'node-1', containers: [{ name: 'app', ports: [{ name: 'management', containerPort: 8558, protocol: 'TCP' }] }] },
      status: { phase: 'Running', podIP: '10.1.0.3', podIPs: [{ ip: '10.1.0.3' }] },
    });
    const jsonpath = await kubectl(['get', 'pod', 'web-3', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    expect(jsonpath.stdout).toBe('True');
    const missing = await kubectl(['get', 'pod', 'nope']);
    expect(missing.stderr).toContain('Error from server (NotFound): pods "nope" not found');
  });

  it('pages with --chunk-size: limit/continue requests in the log, every pod returned once', async () => {
    emu.resetRequests();
    const r = await kubectl(['get', 'pods', '--chunk-size=2', '-o', 'name']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `pod/web-${i}`));
    const lists = emu.requests.filter((q) => q.path === '/api/v1/namespaces/default/pods');
    expect(lists).toHaveLength(4); // 2 + 2 + 2 + 1
    expect(lists.every((q) => q.query.limit === '2' && q.status === 200)).toBe(true);
    expect(lists[0]!.query.continue).toBeUndefined();
    expect(lists.slice(1).every((q) => typeof q.query.continue === 'string' && q.query.continue.length > 0)).toBe(true);
    // kubectl --chunk-size with -o json merges the pages into one list
    const json = await kubectl(['get', 'pods', '--chunk-size=3', '-o', 'json']);
    expect(names(json)).toHaveLength(7);
  });

  it('creates, gets, lists, replaces (409 on a stale resourceVersion) and deletes Leases', async () => {
    const file = path.join(home, 'lease.json');
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'clusterseed-demo-lock', namespace: 'default', annotations: { 'clusterseed.io/first-seed': 'none' } },
      spec: {
        holderIdentity: 'pod-a',
        leaseDurationSeconds: 15,
        acquireTime: '2026-12-02T01:02:03.123456Z',
        renewTime: '2026-12-02T01:02:03.5Z',
        leaseTransitions: 0,
      },
    };
    writeFileSync(file, JSON.stringify(lease));
    // --validate=false: the emulator serves no /openapi/v2 schema document for kubectl's client-side validation
    const created = await kubectl(['create', '--validate=false', '-f', file, '-o', 'json']);
    expect(created.code, created.stderr).toBe(0);
    const c = JSON.parse(created.stdout);
    expect(c.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(c.spec.renewTime).toBe('2026-12-02T01:02:03.500000Z');
    const again = await kubectl(['create', '--validate=false', '-f', file]);
    expect(again.stderr).toContain('Error from server (AlreadyExists)');
    expect(again.stderr).toContain('leases.coordination.k8s.io "clusterseed-demo-lock" already exists');
    const list = await kubectl(['get', 'leases', '-o', 'json']);
    expect(names(list)).toEqual(['clusterseed-demo-lock']);
    const got = JSON.parse((await kubectl(['get', 'lease', 'clusterseed-demo-lock', '-o', 'json'])).stdout);
    expect(got.spec).toEqual({ ...lease.spec, renewTime: '2026-12-02T01:02:03.500000Z' });
    // replace with the current resourceVersion wins; the same body again is stale → Conflict
    writeFileSync(file, JSON.stringify({ ...got, spec: { ...got.spec, holderIdentity: 'pod-b', leaseTransitions: 1 } }));
    const replaced = await kubectl(['replace', '--validate=false', '-f', file, '-o', 'json']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout).spec.holderIdentity).toBe('pod-b');
    expect(emu.lease('default', 'clusterseed-demo-lock')!.spec.holderIdentity).toBe('pod-b');
    const stale = await kubectl(['replace', '--validate=false', '-f', file]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain('Error from server (Conflict)');
    expect(stale.stderr).toContain(
      'Operation cannot be fulfilled on leases.coordination.k8s.io "clusterseed-demo-lock": the object has been modified; ' +
        'please apply your changes to the latest version and try again',
    );
    const del = await kubectl(['delete', 'lease', 'clusterseed-demo-lock']);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toContain('lease.coordination.k8s.io "clusterseed-demo-lock" deleted');
    expect(emu.leases()).toEqual([]);
  });

  it('401: kubectl says Unauthorized for a wrong token, a revoked one, and follows a rotation', async () => {
    const wrong = await kubectl(['get', 'pods'], await emu.kubeconfig({ token: 'not-a-token' }));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('error: You must be logged in to the server (Unauthorized)');
    const oldToken = emu.token;
    const oldConfig = await emu.kubeconfig();
    const newToken = emu.rotateToken();
    expect(readFileSync(emu.tokenFile, 'utf8')).toBe(newToken);
    expect((await kubectl(['get', 'pods', '-o', 'name'], oldConfig)).code).toBe(0); // old token still valid
    emu.revokeToken(oldToken);
    const revoked = await kubectl(['get', 'pods', '-o', 'name'], oldConfig);
    expect(revoked.stderr).toContain('(Unauthorized)');
    const viaFile = await kubectl(['get', 'pods', '-o', 'name', '--token', readFileSync(emu.tokenFile, 'utf8')], oldConfig);
    expect(viaFile.code, viaFile.stderr).toBe(0);
    kubeconfig = await emu.kubeconfig();
  });

  it('403: kubectl shows the RBAC Forbidden message', async () => {
    emu.deny({ verb: 'list', resource: 'pods', namespace: 'default' });
    emu.deny({ verb: 'get', resource: 'leases' });
    try {
      const r = await kubectl(['get', 'pods']);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toBe(
        'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:default" ' +
          'cannot list resource "pods" in API group "" in the namespace "default"',
      );
      expect((await kubectl(['get', 'pods', '-n', 'other', '-o', 'name'])).stdout.trim()).toBe('pod/elsewhere');
      const lease = await kubectl(['get', 'lease', 'x']);
      expect(lease.stderr).toContain(
        'Error from server (Forbidden): leases.coordination.k8s.io "x" is forbidden: User "system:serviceaccount:default:default" ' +
          'cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "default"',
      );
    } finally {
      emu.allowAll();
    }
  });

  it('watches: kubectl get pods -w -o json sees existing pods, then an added and a modified one', async () => {
    emu.resetRequests();
    const child = spawn(kubectlBin, ['--kubeconfig', kubeconfig, '--cache-dir', path.join(home, 'cache'), 'get', 'pods', '-l', 'app=web', '-w', '-o', 'json'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (err += d.toString()));
    const until = async (pred: () => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stdout: ${out.slice(-500)} stderr: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    try {
      await until(() => out.includes('"name": "web-4"'), 'the listed pods');
      await until(() => emu.requests.some((q) => q.query.watch === 'true' || q.query.watch === '1'), 'the watch request');
      const watchReq = emu.requests.find((q) => q.query.watch === 'true' || q.query.watch === '1')!;
      expect(watchReq.query.labelSelector).toBe('app=web');
      expect(watchReq.query.resourceVersion).toMatch(/^\d+$/);
      emu.addPod({ name: 'web-new', labels: { app: 'web' }, podIP: '10.1.0.99' });
      emu.addPod({ name: 'db-new', labels: { app: 'db' } });
      await until(() => out.includes('"name": "web-new"'), 'the added pod');
      emu.updatePod('default', 'web-new', (p) => (p.metadata.labels.version = 'v2'));
      await until(() => out.includes('"version": "v2"'), 'the modified pod');
      expect(out).not.toContain('"name": "db-new"');
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      emu.deletePod('default', 'web-new');
      emu.deletePod('default', 'db-new');
    }
  });
});

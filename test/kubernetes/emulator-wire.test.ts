import https from 'node:https';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { matchesLabels, parseFieldSelector, parseLabelSelector, POD_FIELDS, SelectorError } from '../emulators/kubernetes/selectors.js';

/*
 * The emulator's own edge cases, on the wire (node:https with the test CA): selector parsing,
 * paging corners, Lease PUT semantics, watches (timeoutSeconds, resume from an RV, Lease watch) and
 * the faults (latency, hang, malformed, close() ending everything).
 */

let emu: KubernetesEmulator;
let ca: string;

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
  json: any;
}

function call(method: string, path: string, body?: unknown, token = emu.token, timeoutMs = 5000): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  // an explicit content-length: node sends a DELETE body neither chunked nor sized otherwise
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
  return new Promise((resolve, reject) => {
    const req = https.request(`${emu.url}${path}`, { method, ca, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Reads a watch until `count` events or the stream ends. */
function watch(path: string, count = Infinity): Promise<{ events: any[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const events: any[] = [];
    const req = https.get(`${emu.url}${path}`, { ca, headers: { authorization: `Bearer ${emu.token}` } }, (res) => {
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          if (events.length >= count) {
            req.destroy();
            resolve({ events, ended: false });
            return;
          }
        }
      });
      res.on('end', () => resolve({ events, ended: true }));
      res.on('error', () => resolve({ events, ended: true }));
    });
    req.on('error', (err) => (events.length ? resolve({ events, ended: true }) : reject(err)));
  });
}

beforeAll(async () => {
  emu = await startKubernetesEmulator({ bookmarkIntervalMs: 50, namespaces: ['default', 'b'] });
  ca = readFileSync(emu.caFile, 'utf8');
  for (let i = 0; i < 6; i += 1) emu.addPod({ name: `p${i}`, labels: { app: 'x', n: String(i) }, podIP: `10.0.0.${i}` });
  emu.addPod({ name: 'q0', namespace: 'b', labels: { app: 'x' } });
});
afterAll(async () => emu?.close());

describe('selectors', () => {
  it('parses equality, set-based, existence and numeric requirements with the real semantics', () => {
    const r = parseLabelSelector('a=1, b==2,c!=3,d in (x, y),e notin (z),f,!g,h>5,i<2');
    expect(r.map((q) => q.op)).toEqual(['in', 'in', 'notin', 'in', 'notin', 'exists', '!', 'gt', 'lt']);
    expect(matchesLabels(parseLabelSelector('c!=3'), {})).toBe(true); // != matches a missing label
    expect(matchesLabels(parseLabelSelector('e notin (z)'), {})).toBe(true);
    expect(matchesLabels(parseLabelSelector('d in (x,y)'), { d: 'y' })).toBe(true);
    expect(matchesLabels(parseLabelSelector('!g'), { g: '' })).toBe(false);
    expect(matchesLabels(parseLabelSelector('h>5'), { h: '6' })).toBe(true);
    expect(matchesLabels(parseLabelSelector('app.kubernetes.io/name=web'), { 'app.kubernetes.io/name': 'web' })).toBe(true);
    expect(parseLabelSelector('')).toEqual([]);
    for (const bad of ['a in x', 'a in ()', 'a=b=c', 'a,', '=a', 'a b', 'a=-x', 'bad/key/x=1']) {
      expect(() => parseLabelSelector(bad), bad).toThrow(SelectorError);
    }
    expect(parseFieldSelector('status.phase=Running,spec.nodeName!=n1', POD_FIELDS)).toHaveLength(2);
    expect(() => parseFieldSelector('status.hostIP=1', POD_FIELDS)).toThrow('field label not supported: status.hostIP');
  });

  it('an invalid label selector is a 400 BadRequest Status', async () => {
    const r = await call('GET', `/api/v1/pods?labelSelector=${encodeURIComponent('a in x')}`);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
  });
});

describe('paging corners', () => {
  it('pages across namespaces, exactly divisible pages end without a token, a bad token is 400', async () => {
    const names: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const r = await call('GET', `/api/v1/pods?limit=7${token ? `&continue=${encodeURIComponent(token)}` : ''}`);
      names.push(...r.json.items.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`));
      token = r.json.metadata.continue ?? '';
      pages += 1;
      expect(r.json.items.every((p: any) => p.kind === undefined)).toBe(true); // list items carry no kind
    } while (token);
    expect(pages).toBe(1);
    expect(names).toEqual(['b/q0', 'default/p0', 'default/p1', 'default/p2', 'default/p3', 'default/p4', 'default/p5']);
    const three = await call('GET', '/api/v1/namespaces/default/pods?limit=3');
    expect(three.json.metadata.remainingItemCount).toBe(3);
    const last = await call('GET', `/api/v1/namespaces/default/pods?limit=3&continue=${encodeURIComponent(three.json.metadata.continue)}`);
    expect(last.json.items).toHaveLength(3);
    expect(last.json.metadata.continue).toBeUndefined();
    expect(last.json.metadata.remainingItemCount).toBeUndefined();
    const bad = await call('GET', '/api/v1/namespaces/default/pods?limit=3&continue=garbage');
    expect(bad.status).toBe(400);
    expect(bad.json.reason).toBe('BadRequest');
  });

  it('after compact() an old continue token and an exact old RV are 410 Expired', async () => {
    const first = await call('GET', '/api/v1/namespaces/default/pods?limit=2');
    emu.faults.compact();
    const r = await call('GET', `/api/v1/namespaces/default/pods?limit=2&continue=${encodeURIComponent(first.json.metadata.continue)}`);
    expect(r.status).toBe(410);
    expect(r.json).toMatchObject({ reason: 'Expired', code: 410 });
    expect(typeof r.json.metadata.continue).toBe('string');
    const exact = await call('GET', `/api/v1/namespaces/default/pods?limit=2&resourceVersion=${first.json.metadata.resourceVersion}`);
    expect(exact.status).toBe(410);
    expect(exact.json.message).toBe('The resourceVersion for the provided list is too old.');
    const notOlder = await call('GET', `/api/v1/namespaces/default/pods?resourceVersion=${first.json.metadata.resourceVersion}`);
    expect(notOlder.status).toBe(200); // "not older than" without limit is served from the cache
  });
});

describe('Leases', () => {
  const base = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
  it('PUT without a resourceVersion is 422, PUT to a missing Lease creates it, DELETE honours preconditions', async () => {
    const created = await call('PUT', `${base}/l1`, { metadata: { name: 'l1', resourceVersion: '12345' }, spec: { holderIdentity: 'a' } });
    expect(created.status).toBe(201); // AllowCreateOnUpdate, as the real Lease strategy
    const noRv = await call('PUT', `${base}/l1`, { metadata: { name: 'l1' }, spec: {} });
    expect(noRv.status).toBe(422);
    expect(noRv.json.message).toBe('leases.coordination.k8s.io "l1" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    const mismatch = await call('PUT', `${base}/l2`, { metadata: { name: 'l1' } });
    expect(mismatch.status).toBe(400);
    const wrongNs = await call('POST', '/apis/coordination.k8s.io/v1/namespaces/nowhere/leases', { metadata: { name: 'z' } });
    expect(wrongNs.status).toBe(404);
    expect(wrongNs.json.message).toBe('namespaces "nowhere" not found');
    const pre = await call('DELETE', `${base}/l1`, { preconditions: { resourceVersion: '1' } });
    expect(pre.status).toBe(409);
    expect(pre.json.message).toContain('Precondition failed: ResourceVersion in precondition: 1');
    const del = await call('DELETE', `${base}/l1`);
    expect(del.json).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'l1', kind: 'leases' } });
    expect((await call('DELETE', `${base}/l1`)).status).toBe(404);
  });

  it('watches Leases from a resourceVersion: the changes after it, in order', async () => {
    const list = await call('GET', base);
    const events = watch(`${base}?watch=true&resourceVersion=${list.json.metadata.resourceVersion}`, 3);
    await new Promise((r) => setTimeout(r, 50));
    const c = await call('POST', base, { metadata: { name: 'w' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } });
    await call('PUT', `${base}/w`, { ...c.json, spec: { holderIdentity: 'b' } });
    await call('DELETE', `${base}/w`);
    const { events: got } = await events;
    expect(got.map((e) => [e.type, e.object.kind, e.object.spec?.holderIdentity])).toEqual([
      ['ADDED', 'Lease', 'a'],
      ['MODIFIED', 'Lease', 'b'],
      ['DELETED', 'Lease', 'b'],
    ]);
  });
});

describe('watch', () => {
  it('resumes from a resourceVersion, honours timeoutSeconds, and sends bookmarks only when asked', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/pods');
    emu.updatePod('default', 'p1', (p) => (p.metadata.labels.touched = 'yes'));
    const r = await watch(`/api/v1/namespaces/default/pods?watch=1&resourceVersion=${list.json.metadata.resourceVersion}&timeoutSeconds=1`);
    expect(r.ended).toBe(true);
    expect(r.events.map((e) => [e.type, e.object.metadata.name])).toEqual([['MODIFIED', 'p1']]);
    const b = await watch('/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true&labelSelector=n%3D0', 3);
    expect(b.events.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK', 'BOOKMARK']);
    expect(b.events[1].object).toMatchObject({ kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } });
  });
});

describe('faults', () => {
  it('latency, throttle then recovery, malformed bodies, hangs released by clear()', async () => {
    emu.faults.latencyMs = 150;
    const t0 = performance.now();
    await call('GET', '/api/v1/namespaces/default/pods/p0');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    emu.faults.clear();
    emu.faults.malformed((r) => r.path.endsWith('/pods'));
    const m = await call('GET', '/api/v1/namespaces/default/pods');
    expect(m.status).toBe(200);
    expect(m.json).toBeUndefined();
    expect((await call('GET', '/api/v1/namespaces/default/pods/p0')).status).toBe(200);
    emu.faults.clear();
    emu.faults.hang((r) => r.path.endsWith('/p2'));
    const hung = call('GET', '/api/v1/namespaces/default/pods/p2', undefined, emu.token, 10_000).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(emu.requests.at(-1)).toMatchObject({ path: '/api/v1/namespaces/default/pods/p2', status: 0 });
    emu.faults.clear();
    expect(await hung).toMatch(/socket hang up|ECONNRESET/);
  });

  it('revoked and rotated tokens, and the service-account files', async () => {
    expect(readFileSync(emu.namespaceFile, 'utf8')).toBe('default');
    expect(readFileSync(`${emu.serviceAccountDir}/ca.crt`, 'utf8')).toBe(ca);
    const old = emu.token;
    const next = emu.rotateToken({ revokeOld: true });
    expect(readFileSync(emu.tokenFile, 'utf8')).toBe(next);
    expect((await call('GET', '/api/v1/namespaces/default/pods', undefined, old)).status).toBe(401);
    expect((await call('GET', '/api/v1/namespaces/default/pods', undefined, next)).status).toBe(200);
    expect(emu.requests.slice(-2).map((r) => r.token)).toEqual(['invalid', 'valid']);
  });

  it('close() ends open watches and hung requests at once', async () => {
    const other = await startKubernetesEmulator();
    const otherCa = readFileSync(other.caFile, 'utf8');
    const open = new Promise<string>((resolve) => {
      https
        .get(`${other.url}/api/v1/pods?watch=1`, { ca: otherCa, headers: { authorization: `Bearer ${other.token}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('ended'));
          res.on('close', () => resolve('ended'));
        })
        .on('error', () => resolve('ended'));
    });
    other.faults.hang();
    const hung = new Promise<string>((resolve) => {
      https
        .get(`${other.url}/api/v1/pods`, { ca: otherCa, headers: { authorization: `Bearer ${other.token}` } }, () => resolve('answered'))
        .on('error', () => resolve('reset'));
    });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await other.close();
    expect(await open).toBe('ended');
    expect(await hung).toBe('reset');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

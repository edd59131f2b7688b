import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import consulPkg from 'consul';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/server.js';
import { eventually } from './consul-helpers.js';

/** No provider timers here, so the emulator can run faster than in the provider tests. */
const SCALE = 0.05;

// The npm `consul` client (v2) is the reference: if it can talk to the emulator, the wire format matches.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const Consul = ((consulPkg as any).Consul ?? consulPkg) as new (o: object) => any;

let emu: ConsulEmulator;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let consul: any;

async function raw(method: string, path: string, init: { body?: string; token?: string } = {}) {
  const res = await fetch(`http://${emu.address}${path}`, { method, body: init.body, headers: init.token ? { 'X-Consul-Token': init.token } : {} });
  return { status: res.status, text: await res.text(), index: res.headers.get('x-consul-index'), headers: res.headers };
}

/** The npm client resolves a `false` answer (refused acquire / cas) as undefined, so booleans are read raw. */
async function kvPut(key: string, value: string, query: string): Promise<boolean> {
  return JSON.parse((await raw('PUT', `/v1/kv/${key}?${query}`, { body: value })).text) as boolean;
}

beforeEach(async () => {
  emu = await startConsulEmulator({ timeScale: SCALE });
  consul = new Consul({ host: '127.0.0.1', port: emu.port });
});
afterEach(async () => {
  consul.destroy();
  await emu.stop();
});

describe('consul emulator: agent services and health', () => {
  it('registers a service with a TTL check and answers /v1/health/service like the agent', async () => {
    await consul.agent.service.register({
      name: 'api',
      id: 'api-1',
      address: '10.0.0.1',
      port: 7626,
      tags: ['a', 'b'],
      meta: { v: '1' },
      check: { ttl: '10s', status: 'passing' },
    });
    const entries = await consul.health.service({ service: 'api', passing: true });
    expect(entries).toHaveLength(1);
    const [e] = entries;
    expect(e.Node).toMatchObject({ Node: 'emulator-node', Address: '127.0.0.1', Datacenter: 'dc1' });
    expect(e.Service).toMatchObject({ ID: 'api-1', Service: 'api', Tags: ['a', 'b'], Address: '10.0.0.1', Port: 7626, Meta: { v: '1' } });
    expect(e.Checks.map((c: { CheckID: string; Status: string }) => [c.CheckID, c.Status])).toEqual([
      ['serfHealth', 'passing'],
      ['service:api-1', 'passing'],
    ]);
    const catalog = await consul.catalog.service.nodes('api');
    expect(catalog[0]).toMatchObject({ Node: 'emulator-node', ServiceID: 'api-1', ServiceAddress: '10.0.0.1', ServicePort: 7626, ServiceTags: ['a', 'b'] });
  });

  it('filters by every tag given and by passing', async () => {
    // TTLs far longer than the test (scaled): no check may expire on a loaded machine.
    await consul.agent.service.register({ name: 'api', id: 'x', port: 1, tags: ['a', 'b'], check: { ttl: '600s', status: 'passing' } });
    await consul.agent.service.register({ name: 'api', id: 'y', port: 2, tags: ['a'], check: { ttl: '600s' } }); // starts critical
    const ids = async (q: string) => JSON.parse((await raw('GET', `/v1/health/service/api${q}`)).text).map((e: { Service: { ID: string } }) => e.Service.ID);
    expect(await ids('')).toEqual(['x', 'y']);
    expect(await ids('?tag=a')).toEqual(['x', 'y']);
    expect(await ids('?tag=a&tag=b')).toEqual(['x']);
    expect(await ids('?passing')).toEqual(['x']);
    await consul.agent.check.pass('service:y');
    expect(await ids('?passing')).toEqual(['x', 'y']);
    await consul.agent.check.warn('service:y');
    expect(await ids('?passing')).toEqual(['x']);
  });

  it('lets a TTL check go critical when not refreshed, then reaps the service after DeregisterCriticalServiceAfter', async () => {
    await consul.agent.service.register({ name: 'api', id: 'api-1', port: 1, check: { ttl: '10s', status: 'passing', deregistercriticalserviceafter: '1m' } });
    const checkStatus = async () => (await consul.health.service('api'))[0]?.Checks[1]?.Status;
    await eventually(async () => (await checkStatus()) === 'critical');
    const [entry] = await consul.health.service('api');
    expect(entry.Checks[1].Output).toBe('TTL expired');
    await eventually(async () => (await consul.health.service('api')).length === 0);
    const res = await raw('PUT', '/v1/agent/check/pass/service:api-1');
    expect(res.status).toBe(404);
    expect(res.text).toMatch(/Unknown check ID/);
  });

  it('blocks /v1/health/service on index until the service changes', async () => {
    const first = await raw('GET', '/v1/health/service/api');
    let settled = false;
    const waited = raw('GET', `/v1/health/service/api?index=${first.index}&wait=10s`).then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).toBe(false);
    await consul.agent.service.register({ name: 'api', id: 'api-1', port: 1 });
    const after = await waited;
    expect(Number(after.index)).toBeGreaterThan(Number(first.index));
    expect(JSON.parse(after.text)[0].Service.ID).toBe('api-1');
  });

  it('deregisters; an unknown service ID is a 404', async () => {
    await consul.agent.service.register({ name: 'api', id: 'api-1', port: 1 });
    await consul.agent.service.deregister('api-1');
    expect(await consul.health.service('api')).toEqual([]);
    expect((await raw('PUT', '/v1/agent/service/deregister/api-1')).status).toBe(404);
  });

  it("serves other datacenters and refuses unknown ones with Consul's message", async () => {
    emu.state.addNode({ Node: 'far', Address: '10.9.0.1', Datacenter: 'dc2' });
    emu.state.registerService('far', { Name: 'api', ID: 'far-1', Port: 5 }, []);
    await consul.agent.service.register({ name: 'api', id: 'near-1', port: 1 });
    expect((await consul.health.service({ service: 'api', dc: 'dc2' })).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(['far-1']);
    expect((await consul.health.service('api')).map((e: { Service: { ID: string } }) => e.Service.ID)).toEqual(['near-1']);
    const res = await raw('GET', '/v1/health/service/api?dc=nowhere');
    expect(res.status).toBe(500);
    expect(res.text).toBe('No path to datacenter');
  });
});

describe('consul emulator: sessions and KV', () => {
  it('a node whose serfHealth goes critical drops out of passing results and loses its sessions', async () => {
    await consul.agent.service.register({ name: 'api', id: 'api-1', port: 1, check: { ttl: '1h', status: 'passing' } });
    const sid = (await consul.session.create({ behavior: 'delete' })).ID;
    await consul.kv.set({ key: 'n/k', value: 'v', acquire: sid });
    emu.state.setNodeHealth(emu.state.agentNode, 'critical');
    expect(await consul.health.service({ service: 'api', passing: true })).toEqual([]);
    expect(await consul.health.service('api')).toHaveLength(1);
    expect(await consul.kv.get('n/k')).toBeUndefined();
    expect((await raw('PUT', '/v1/session/create', { body: '{}' })).text).toMatch(/Check 'serfHealth' is in critical state/);
  });

  it('rejects a session TTL under 10s and creates sessions with node checks', async () => {
    const bad = await raw('PUT', '/v1/session/create', { body: JSON.stringify({ TTL: '5s' }) });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/Invalid Session TTL/);
    const { ID } = await consul.session.create({ ttl: '10s', behavior: 'delete', lockdelay: '1s' });
    const info = await consul.session.info(ID); // the client returns the first entry
    expect(info).toMatchObject({ ID, Behavior: 'delete', TTL: '10s', NodeChecks: ['serfHealth'] });
    const missing = await raw('PUT', '/v1/session/create', { body: JSON.stringify({ Checks: ['nope'] }) });
    expect(missing.status).toBe(500);
  });

  it('acquire is exclusive, release frees the key, LockIndex counts acquisitions', async () => {
    const a = (await consul.session.create({ ttl: '10s' })).ID;
    const b = (await consul.session.create({ ttl: '10s' })).ID;
    expect(await consul.kv.set({ key: 's/lock', value: 'A', acquire: a })).toBe(true);
    expect(await kvPut('s/lock', 'B', `acquire=${b}`)).toBe(false);
    expect(await consul.kv.get('s/lock')).toMatchObject({ Value: 'A', Session: a, LockIndex: 1 });
    expect(await kvPut('s/lock', 'A', `release=${b}`)).toBe(false);
    expect(await consul.kv.set({ key: 's/lock', value: 'A', release: a })).toBe(true);
    expect(await consul.kv.set({ key: 's/lock', value: 'B', acquire: b })).toBe(true);
    expect(await consul.kv.get('s/lock')).toMatchObject({ Value: 'B', Session: b, LockIndex: 2 });
    const invalid = await raw('PUT', '/v1/kv/s/lock?acquire=not-a-session', { body: 'x' });
    expect(invalid.status).toBe(500);
    expect(invalid.text).toMatch(/invalid session/);
  });

  it('on TTL expiry deletes held keys (behavior delete) or releases them (release), and applies lock-delay', async () => {
    const del = (await consul.session.create({ ttl: '10s', behavior: 'delete', lockdelay: '15s' })).ID;
    const rel = (await consul.session.create({ ttl: '10s', behavior: 'release', lockdelay: '0s' })).ID;
    await consul.kv.set({ key: 'k/del', value: '1', acquire: del });
    await consul.kv.set({ key: 'k/rel', value: '2', acquire: rel });
    await eventually(async () => (await consul.kv.get('k/del')) === undefined); // 10s × 2 × SCALE = 1 s
    // The second session was created a little later: on a loaded machine it may expire a tick later.
    await eventually(async () => (await consul.kv.get('k/rel'))?.Session === undefined);
    const released = await consul.kv.get('k/rel');
    expect(released).toMatchObject({ Value: '2' });
    expect(released.Session).toBeUndefined();
    expect((await raw('PUT', `/v1/session/renew/${del}`)).status).toBe(404);
    const next = (await consul.session.create({ ttl: '10s' })).ID;
    expect(await kvPut('k/del', 'x', `acquire=${next}`)).toBe(false); // lock-delay 15 s × SCALE
    await eventually(async () => (await consul.kv.set({ key: 'k/del', value: 'x', acquire: next })) === true);
    expect(await consul.kv.set({ key: 'k/rel', value: 'y', acquire: next })).toBe(true); // no lock-delay
  });

  it('renewal keeps a session alive past its TTL; destroy deletes its keys', async () => {
    const sid = (await consul.session.create({ ttl: '10s', behavior: 'delete' })).ID;
    await consul.kv.set({ key: 'r/k', value: 'v', acquire: sid });
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 250)); // 2 s in all, twice the scaled invalidation time
      await consul.session.renew(sid);
    }
    expect(await consul.kv.get('r/k')).toMatchObject({ Session: sid });
    await consul.session.destroy(sid);
    expect(await consul.kv.get('r/k')).toBeUndefined();
  });

  it('cas writes and deletes, keys with a separator, recursive delete, base64 values', async () => {
    expect(await consul.kv.set({ key: 'c/a', value: '1', cas: 0 })).toBe(true);
    expect(await kvPut('c/a', '2', 'cas=0')).toBe(false);
    const cur = await consul.kv.get('c/a');
    expect(await consul.kv.set({ key: 'c/a', value: '3', cas: cur.ModifyIndex })).toBe(true);
    expect(JSON.parse((await raw('DELETE', `/v1/kv/c/a?cas=${cur.ModifyIndex}`)).text)).toBe(false);
    await consul.kv.set('c/d/e', 'x');
    expect(await consul.kv.keys({ key: 'c/', separator: '/' })).toEqual(['c/a', 'c/d/']);
    expect(JSON.parse((await raw('GET', '/v1/kv/c/a')).text)[0].Value).toBe(Buffer.from('3').toString('base64'));
    await consul.kv.del({ key: 'c/', recurse: true });
    expect(await consul.kv.get({ key: 'c/', recurse: true })).toBeUndefined();
  });

  it('txn: check-session + cas apply together or not at all (200 / 409 with OpIndex and What), as the consul client sees them', async () => {
    const sid = (await consul.session.create({ ttl: '10s' })).ID;
    const other = (await consul.session.create({ ttl: '10s' })).ID;
    await consul.kv.set({ key: 't/lock', value: 'A', acquire: sid });
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const fenced = (session: string, index: number, value: string) => [
      { KV: { Verb: 'check-session', Key: 't/lock', Session: session } },
      { KV: { Verb: 'cas', Key: 't/first-seed', Value: b64(value), Index: index } },
    ];
    const ok = await consul.transaction.create(fenced(sid, 0, 'A'));
    expect(ok).toMatchObject({ Errors: null });
    expect(ok.Results[1].KV).toMatchObject({ Key: 't/first-seed', Value: null });
    expect(await consul.kv.get('t/first-seed')).toMatchObject({ Value: 'A' });
    // Not the holder, and (separately) a stale index: rolled back with 409, nothing written.
    const refused = await raw('PUT', '/v1/txn', { body: JSON.stringify(fenced(other, 0, 'B')) });
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.text)).toMatchObject({ Results: null, Errors: [{ OpIndex: 0 }, { OpIndex: 1 }] });
    await expect(consul.transaction.create(fenced(sid, 0, 'B'))).rejects.toThrow();
    expect(await consul.kv.get('t/first-seed')).toMatchObject({ Value: 'A' });
    const cur = await consul.kv.get('t/first-seed');
    await consul.transaction.create([
      { KV: { Verb: 'check-session', Key: 't/lock', Session: sid } },
      { KV: { Verb: 'delete-cas', Key: 't/first-seed', Index: cur.ModifyIndex } },
    ]);
    expect(await consul.kv.get('t/first-seed')).toBeUndefined();
    expect((await raw('PUT', '/v1/txn', { body: '{"KV":1}' })).status).toBe(400);
  });

  it('blocking queries wait for a change past the index, or for `wait`', async () => {
    await consul.kv.set('b/x', '1');
    const first = await raw('GET', '/v1/kv/b/?recurse');
    const index = Number(first.index);
    expect(index).toBeGreaterThan(0);
    const waited = raw('GET', `/v1/kv/b/?recurse&index=${index}&wait=10s`);
    let settled = false;
    void waited.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    await consul.kv.set('other/key', 'unrelated'); // outside the prefix: still waiting
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    await consul.kv.del('b/x');
    const after = await waited;
    expect(after.status).toBe(404);
    expect(Number(after.index)).toBeGreaterThan(index);
    const timedOut = await raw('GET', `/v1/kv/b/?recurse&index=${after.index}&wait=100ms`);
    expect(timedOut.index).toBe(after.index);
  });
});

describe('consul emulator: ACLs, faults, counting', () => {
  it('403 for unknown tokens and for writes without permission; anonymous reads are filtered', async () => {
    await emu.stop();
    emu = await startConsulEmulator({ acl: { tokens: { reader: 'read', writer: 'write' } } });
    const body = JSON.stringify({ Name: 'api', ID: 'a', Port: 1 });
    expect(await raw('PUT', '/v1/agent/service/register', { body })).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await raw('PUT', '/v1/agent/service/register', { body, token: 'reader' })).toMatchObject({ status: 403, text: 'Permission denied' });
    expect(await raw('PUT', '/v1/agent/service/register', { body, token: 'wrong' })).toMatchObject({ status: 403, text: 'ACL not found' });
    expect((await raw('PUT', '/v1/agent/service/register', { body, token: 'writer' })).status).toBe(200);
    const anon = await raw('GET', '/v1/health/service/api');
    expect(anon.text).toBe('[]');
    expect(anon.headers.get('x-consul-results-filtered-by-acls')).toBe('true');
    expect(JSON.parse((await raw('GET', '/v1/health/service/api?token=reader')).text)).toHaveLength(1);
    const c = new Consul({ host: '127.0.0.1', port: emu.port, defaults: { token: 'reader' } });
    expect(await c.health.service('api')).toHaveLength(1);
    c.destroy();
  });

  it('injects statuses, bodies and latency, and counts requests', async () => {
    emu.inject('/v1/health/service/', { kind: 'status', status: 500, body: 'rpc error' });
    emu.inject('/v1/health/service/', { kind: 'body', body: '{"not json' });
    expect((await raw('GET', '/v1/health/service/api')).status).toBe(500);
    expect((await raw('GET', '/v1/health/service/api')).text).toBe('{"not json');
    expect((await raw('GET', '/v1/health/service/api')).text).toBe('[]');
    expect(emu.count('/v1/health/service/api', 'GET')).toBe(3);
  });
});

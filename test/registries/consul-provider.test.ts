import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { AuthError, ConfigError, DiscoveryError, ProtocolError, TimeoutError, AbortedError } from '../../src/errors.js';
import { createDiscovery } from '../../src/registry.js';
import { consulEndpoint } from '../../providers/consul/client.js';
import { serviceId } from '../../providers/consul/registration.js';
import { scaledClock } from '../emulators/consul/scaled-clock.js';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/server.js';
import { eventually, makeProvider, recordingLogger, SCALE } from './consul-helpers.js';
import type { ConsulProvider } from '../../providers/consul/index.js';

let emu: ConsulEmulator;
const providers: ConsulProvider[] = [];
const clock = scaledClock(SCALE);

function provider(options: Record<string, unknown> = {}, ctx: Partial<Parameters<typeof makeProvider>[2]> = {}): ConsulProvider {
  const p = makeProvider(emu, options, { clock, ...ctx });
  providers.push(p);
  return p;
}

function seed(id: string, svc: { Tags?: string[]; Address?: string; Port?: number }, status: 'passing' | 'critical' = 'passing', node?: string) {
  emu.state.registerService(node ?? emu.state.agentNode, { Name: 'api', ID: id, ...svc }, [{ TTL: '1h', Status: status }]);
}

beforeEach(async () => {
  emu = await startConsulEmulator({ timeScale: SCALE });
});
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
  await emu.stop();
});

describe('consul resolve', () => {
  it('returns passing instances in canonical order with meta, falling back to the node address', async () => {
    emu.state.addNode({ Node: 'n2', Address: '10.0.0.9' });
    seed('b', { Address: '10.0.0.20', Port: 7626, Tags: ['x'] });
    seed('a', { Address: '10.0.0.3', Port: 7626 });
    seed('empty-address', { Address: '', Port: 7000 }, 'passing', 'n2');
    seed('down', { Address: '10.0.0.1', Port: 7626 }, 'critical');
    const points = await provider().resolve({ service: 'api' });
    expect(points).toEqual([
      { host: '10.0.0.3', port: 7626, meta: { node: 'emulator-node', serviceId: 'a', datacenter: 'dc1' } },
      { host: '10.0.0.9', port: 7000, meta: { node: 'n2', serviceId: 'empty-address', datacenter: 'dc1' } },
      { host: '10.0.0.20', port: 7626, meta: { node: 'emulator-node', serviceId: 'b', tags: 'x', datacenter: 'dc1' } },
    ]);
    expect((await provider({ passingOnly: false }).resolve({ service: 'api' })).map((p) => p.meta?.serviceId)).toContain('down');
    expect(emu.requests.filter((r) => r.path === '/v1/health/service/api').map((r) => r.query)).toEqual(['?passing', '']);
  });

  it('requires every configured tag and reads the port from portFromTag', async () => {
    seed('both', { Address: '10.0.0.1', Port: 1, Tags: ['primary', 'v2', 'management-port:7626'] });
    seed('one', { Address: '10.0.0.2', Port: 1, Tags: ['primary'] });
    seed('bad-port', { Address: '10.0.0.3', Port: 1, Tags: ['primary', 'v2', 'management-port:http'] });
    seed('no-port-tag', { Address: '10.0.0.4', Port: 9, Tags: ['primary', 'v2'] });
    const points = await provider({ tags: ['primary', 'v2'], portFromTag: 'management-port:' }).resolve({ service: 'api' });
    expect(points.map((p) => [p.host, p.port])).toEqual([
      ['10.0.0.1', 7626],
      ['10.0.0.4', 9],
    ]);
    expect(emu.requests.at(-1)!.query).toBe('?passing&tag=primary&tag=v2');
  });

  it('queries the configured datacenter', async () => {
    emu.state.addNode({ Node: 'far', Address: '10.8.0.1', Datacenter: 'dc2' });
    seed('far-1', { Address: '', Port: 5 }, 'passing', 'far');
    seed('near-1', { Address: '10.0.0.1', Port: 5 });
    expect((await provider({ datacenter: 'dc2' }).resolve({ service: 'api' })).map((p) => p.host)).toEqual(['10.8.0.1']);
  });

  it('is created through the registry with CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN', async () => {
    await emu.stop();
    emu = await startConsulEmulator({ acl: { tokens: { 's3cr3t-token': 'write' } } });
    seed('a', { Address: '10.0.0.1', Port: 7626 });
    const p = await createDiscovery({ method: 'akka-consul' } as never, {
      env: { CONSUL_HTTP_ADDR: `http://${emu.address}`, CONSUL_HTTP_TOKEN: 's3cr3t-token' },
    });
    try {
      expect((await p.resolve({ service: 'api' })).map((c) => c.host)).toEqual(['10.0.0.1']);
      expect(emu.requests.at(-1)!.hasToken).toBe(true);
      expect(emu.requests.at(-1)!.query).not.toContain('token'); // header only, never in the URL
    } finally {
      await p.close();
    }
  });

  it('reports a rejected token as AuthError without the token text, and warns when ACLs hide everything', async () => {
    await emu.stop();
    emu = await startConsulEmulator({ acl: { tokens: { good: 'read' } } });
    seed('a', { Address: '10.0.0.1', Port: 7626 });
    const err = await provider({ token: 'wrong-token-value' })
      .resolve({ service: 'api' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    const text = `${(err as AuthError).message} ${(err as AuthError).hint}`;
    expect(text).toMatch(/ACL not found/);
    expect(text).not.toContain('wrong-token-value');
    const logger = recordingLogger();
    expect(await provider({}, { logger }).resolve({ service: 'api' })).toEqual([]);
    expect(logger.text()).toMatch(/ACLs hid every instance/);
  });

  it('turns malformed responses into ProtocolErrors naming the field', async () => {
    const p = provider();
    const cases: [string, RegExp][] = [
      ['{"not json', /not valid JSON/],
      ['{"Node":1}', /\(body\): /],
      ['[{"Node":{"Node":"n","Address":"10.0.0.1"},"Service":{"ID":"a","Service":"api","Address":"","Port":"7626"}}]', /\[0\]\.Service\.Port/],
      ['[{"Node":{"Node":"n","Address":"10.0.0.1"},"Service":{"ID":"a","Service":"api","Address":"not an address!","Port":1}}]', /\[0\]\.Service\.Address/],
      ['[{"Node":{"Node":"n"},"Service":{"ID":"a","Service":"api","Address":"","Port":1}}]', /\[0\]\.Node\.Address/],
    ];
    for (const [body, field] of cases) {
      emu.inject('/v1/health/service/', { kind: 'body', body });
      const err = await p.resolve({ service: 'api' }).catch((e: unknown) => e);
      expect(err, body).toBeInstanceOf(ProtocolError);
      expect((err as Error).message, body).toMatch(field);
    }
  });

  it('maps 500s to retriable DiscoveryErrors, honours timeouts and abort signals', async () => {
    const p = provider();
    emu.inject('/v1/health/service/', { kind: 'status', status: 500, body: 'rpc error: No cluster leader' });
    const e500 = await p.resolve({ service: 'api' }).catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(DiscoveryError);
    expect((e500 as DiscoveryError).retriable).toBe(true);
    expect((e500 as Error).message).toMatch(/No cluster leader/);
    emu.inject('/v1/health/service/', { kind: 'latency', ms: 2_000 });
    expect(await p.resolve({ service: 'api' }, { timeoutMs: 100 }).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    emu.inject('/v1/health/service/', { kind: 'latency', ms: 2_000 });
    const controller = new AbortController();
    const pending = p.resolve({ service: 'api' }, { signal: controller.signal }).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 50);
    expect(await pending).toBeInstanceOf(AbortedError);
    const down = makeProvider(emu, { port: 1 }, { clock: systemClock });
    expect(await down.resolve({ service: 'api' }).catch((e: unknown) => e)).toBeInstanceOf(DiscoveryError);
  });

  it('reads CONSUL_HTTP_ADDR forms and rejects unsupported ones as ConfigError', () => {
    const base = { secure: false };
    expect(consulEndpoint(base, {}).baseUrl).toBe('http://127.0.0.1:8500');
    expect(consulEndpoint(base, { CONSUL_HTTP_ADDR: '10.1.2.3:8501' }).baseUrl).toBe('http://10.1.2.3:8501');
    expect(consulEndpoint(base, { CONSUL_HTTP_ADDR: 'https://consul.local' }).baseUrl).toBe('https://consul.local:8500');
    expect(consulEndpoint(base, { CONSUL_HTTP_ADDR: '[fd00::1]:8500' }).baseUrl).toBe('http://[fd00::1]:8500');
    expect(consulEndpoint({ ...base, host: 'agent', port: 9 }, { CONSUL_HTTP_ADDR: '10.1.2.3:8501' }).baseUrl).toBe('http://agent:9');
    expect(consulEndpoint({ secure: true }, {}).baseUrl).toBe('https://127.0.0.1:8500');
    expect(consulEndpoint(base, { CONSUL_HTTP_TOKEN: 't' }).token).toBe('t');
    expect(consulEndpoint({ ...base, token: 'opt' }, { CONSUL_HTTP_TOKEN: 't' }).token).toBe('opt');
    expect(() => consulEndpoint(base, { CONSUL_HTTP_ADDR: 'unix:///var/run/consul.sock' })).toThrow(ConfigError);
    expect(() => consulEndpoint(base, { CONSUL_HTTP_ADDR: 'bad host:x' })).toThrow(ConfigError);
  });
});

describe('consul registration', () => {
  const self = { host: '127.0.0.1', port: 7626 };

  it('registers with a passing TTL check that stays passing well past the TTL, and close() deregisters', async () => {
    const p = provider({ tags: ['primary'], portFromTag: 'mgmt:' });
    const reg = await p.register(self, { service: 'api' });
    const id = serviceId('api', self);
    const svc = [...emu.state.services.values()].find((s) => s.ID === id)!;
    expect(svc).toMatchObject({ Service: 'api', Address: '127.0.0.1', Port: 7626, Tags: ['primary', 'mgmt:7626'] });
    const check = emu.state.checks.get(`${emu.state.agentNode}/service:${id}`)!;
    expect(check.Status).toBe('passing');
    expect(check.ttlMs).toBe(10_000 * SCALE);
    expect(check.deregisterAfterMs).toBe(60_000 * SCALE);
    const deadline = Date.now() + 4 * check.ttlMs!;
    await eventually(() => Date.now() > deadline, 10_000); // four TTLs
    expect(check.Status).toBe('passing');
    expect(emu.count(`/v1/agent/check/pass/${encodeURIComponent(`service:${id}`)}`)).toBeGreaterThanOrEqual(6);
    expect((await p.resolve({ service: 'api' })).map((c) => [c.host, c.port])).toEqual([['127.0.0.1', 7626]]);
    await reg.close();
    expect(emu.state.services.size).toBe(0);
    expect(await p.resolve({ service: 'api' })).toEqual([]);
  });

  it('re-registers and logs it when the agent lost the registration', async () => {
    const logger = recordingLogger();
    const p = provider({}, { logger });
    await p.register(self, { service: 'api' });
    const id = serviceId('api', self);
    emu.state.deregisterService(emu.state.agentNode, id); // agent restarted without its state
    await eventually(() => [...emu.state.services.values()].some((s) => s.ID === id));
    expect(logger.text()).toMatch(/lost this registration/);
    expect(emu.count('/v1/agent/service/register')).toBe(2);
  });

  it('a node that stops refreshing goes critical, drops out of passing results, and is reaped', async () => {
    const { frozenClock } = await import('../emulators/consul/scaled-clock.js');
    const dead = provider({}, { clock: frozenClock });
    await dead.register(self, { service: 'api' });
    const reader = provider();
    expect(await reader.resolve({ service: 'api' })).toHaveLength(1);
    await eventually(async () => (await reader.resolve({ service: 'api' })).length === 0);
    await eventually(() => emu.state.services.size === 0); // DeregisterCriticalServiceAfter 60 s × SCALE
  });

  it('never logs or reports the token', async () => {
    await emu.stop();
    emu = await startConsulEmulator({ acl: { tokens: { 'reader-token-xyz': 'read' } }, timeScale: SCALE });
    const logger = recordingLogger();
    const p = provider({ token: 'reader-token-xyz' }, { logger });
    const err = await p.register(self, { service: 'api' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect(JSON.stringify({ m: (err as Error).message, h: (err as AuthError).hint, logs: logger.text() })).not.toContain('reader-token-xyz');
  });
});

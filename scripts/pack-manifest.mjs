#!/usr/bin/env node
/*
 * npm pack / npm publish lifecycle (package.json `prepack` and `postpack`).
 *
 *   prepack:  a clean build (dist/ removed, then tsc), then `scripts.prepare` is taken out of
 *             package.json, so the tarball carries no install script: npm 11 warns about a `prepare`
 *             of a package installed from a tarball ("install-scripts … not yet covered by
 *             allowScripts"), and a user's install has no TypeScript to run it with anyway.
 *   postpack: `scripts.prepare` goes back where it was.
 *
 * The repository keeps `prepare` (npm install in a clone builds, as the README says). The same
 * pattern as husky's pinst. The removed script waits in .prepack-state.json beside package.json; a
 * pack that died between the two leaves that file, and the next prepack or postpack puts it back.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = process.cwd();
const manifestFile = path.join(root, 'package.json');
const stateFile = path.join(root, '.prepack-state.json');

const readManifest = () => JSON.parse(readFileSync(manifestFile, 'utf8'));
const writeManifest = (pkg) => writeFileSync(manifestFile, `${JSON.stringify(pkg, null, 2)}\n`);

/** Puts the saved `prepare` back, after the script it followed. */
function restore() {
  if (!existsSync(stateFile)) return;
  const { prepare, after } = JSON.parse(readFileSync(stateFile, 'utf8'));
  const pkg = readManifest();
  if (pkg.scripts?.prepare === undefined) {
    const scripts = {};
    let placed = false;
    if (after === null) {
      scripts.prepare = prepare;
      placed = true;
    }
    for (const [key, value] of Object.entries(pkg.scripts ?? {})) {
      scripts[key] = value;
      if (key === after) {
        scripts.prepare = prepare;
        placed = true;
      }
    }
    if (!placed) scripts.prepare = prepare;
    pkg.scripts = scripts;
    writeManifest(pkg);
  }
  rmSync(stateFile);
}

function prepack() {
  restore();
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(manifestFile).resolve('typescript/bin/tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) {
    console.error(`prepack: tsc failed (exit ${build.status ?? build.signal})`);
    process.exit(1);
  }
  const pkg = readManifest();
  const keys = Object.keys(pkg.scripts ?? {});
  const at = keys.indexOf('prepare');
  if (at === -1) return;
  writeFileSync(stateFile, `${JSON.stringify({ prepare: pkg.scripts.prepare, after: at === 0 ? null : keys[at - 1] })}\n`);
  delete pkg.scripts.prepare;
  writeManifest(pkg);
}

const step = process.argv[2];
if (step === 'prepack') prepack();
else if (step === 'postpack') restore();
else {
  console.error('usage: node scripts/pack-manifest.mjs prepack|postpack');
  process.exit(2);
}

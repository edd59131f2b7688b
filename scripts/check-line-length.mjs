#!/usr/bin/env node
/*
 * No source line over 160 characters (package.json `lint`, after `biome check`).
 *
 * Biome formats at 160 columns but leaves a string or template literal whole, so a long message
 * stays on one line; this check catches those. Long text is split into concatenated literals
 * (`'…' +` on one line, `'…'` on the next) or moved into a named const.
 *
 * The files are the tracked *.ts, *.mjs and *.js (`git ls-files`); outside a git checkout (an
 * unpacked tarball), the source folders are walked instead. Length is counted in characters
 * (code points), as an editor shows them. Exits 1 listing file:line:length for each long line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX = 160;
const EXTENSIONS = ['.ts', '.mjs', '.js'];
const FOLDERS = ['src', 'providers', 'test', 'bench', 'scripts', 'examples'];
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git']);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isSource = (file) => EXTENSIONS.some((ext) => file.endsWith(ext));

function tracked() {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.mjs', '*.js'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    });
    return out.split('\0').filter((f) => f !== '' && isSource(f));
  } catch {
    return undefined;
  }
}

function walk(dir, files) {
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) walk(rel, files);
    else if (entry.isFile() && isSource(entry.name)) files.push(rel);
  }
  return files;
}

const files = tracked() ?? FOLDERS.filter((d) => existsSync(path.join(root, d))).flatMap((d) => walk(d, []));
const long = [];
for (const file of files) {
  const full = path.join(root, file);
  // A tracked file deleted in the work tree is not there to check.
  if (!existsSync(full)) continue;
  const lines = readFileSync(full, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    const length = [...line].length;
    if (length > MAX) long.push(`${file}:${i + 1}:${length}`);
  });
}

if (long.length > 0) {
  console.error(`${long.length} line(s) over ${MAX} characters (split the literal: 'a' +\\n 'b'):`);
  for (const entry of long) console.error(`  ${entry}`);
  process.exit(1);
}
console.log(`line length: ${files.length} files, no line over ${MAX} characters`);

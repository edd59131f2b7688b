import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/*
 * Debian's kubectl (package `kubernetes-client`, 1.20 in bookworm) for the emulator conformance
 * tests. It is NOT installed: the package's /usr/bin/kubectl conflicts with other kubectls (e.g. the
 * google-cloud-sdk one), so we `apt-get download` the .deb (no root needed) and `dpkg-deb -x` it into
 * a cache dir, once per machine. When the download fails because apt has no package lists, we run
 * `apt-get update` as root or through passwordless sudo and retry; otherwise we fail loudly — the
 * kubectl tests are never skipped silently (same policy as install.ts).
 */

export const KUBECTL_CACHE_DIR = path.join(os.tmpdir(), 'clusterseed-kubectl');
const FINAL = path.join(KUBECTL_CACHE_DIR, 'root');
export const KUBECTL_BIN = path.join(FINAL, 'usr', 'bin', 'kubectl');

function loud(message: string): Error {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${message}\n${bar}\n\n`);
  return new Error(message);
}

function which(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number; stderr: string; stdout: string }> {
  process.stderr.write(`[kubectl] ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 10 * 60_000,
    });
    let stderr = '';
    let stdout = '';
    child.stdout!.on('data', (d) => (stdout = (stdout + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.once('error', (err) => reject(loud(`[kubectl] "${cmd}" could not run: ${err.message}`)));
    child.once('exit', (code) => resolve({ code: code ?? 1, stderr, stdout }));
  });
}

function checkVersion(bin: string): void {
  const r = spawnSync(bin, ['version', '--client'], { encoding: 'utf8', timeout: 20_000 });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 || !/v1\.20\./.test(out)) throw loud(`[kubectl] ${bin} is not Debian's kubectl 1.20: "${out.trim()}"`);
}

let pending: Promise<string> | undefined;

/** Path of Debian's kubectl 1.20, downloaded and unpacked into the cache on first use. */
export function ensureKubectl(): Promise<string> {
  pending ??= fetchKubectl().catch((err) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

async function fetchKubectl(): Promise<string> {
  if (existsSync(KUBECTL_BIN)) {
    checkVersion(KUBECTL_BIN);
    return KUBECTL_BIN;
  }
  if (!which('apt-get') || !which('dpkg-deb')) {
    throw loud("[kubectl] Debian's kubectl is needed by test/kubernetes/emulator-kubectl.test.ts but apt-get/dpkg-deb are missing (not a Debian system?)");
  }
  mkdirSync(KUBECTL_CACHE_DIR, { recursive: true });
  // A private work dir, renamed into place at the end: parallel test workers never see half a tree.
  const work = mkdtempSync(path.join(KUBECTL_CACHE_DIR, 'work-'));
  try {
    let dl = await run('apt-get', ['download', 'kubernetes-client'], work);
    if (dl.code !== 0) {
      const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
      const sudo = !isRoot && which('sudo') !== undefined && spawnSync('sudo', ['-n', 'true']).status === 0;
      if (!isRoot && !sudo) {
        throw loud(
          `[kubectl] "apt-get download kubernetes-client" failed and apt lists cannot be refreshed here (not root, no passwordless sudo): ${dl.stderr}` +
            '\nRun "sudo apt-get update" and retry.',
        );
      }
      const update = sudo
        ? await run('sudo', ['-n', 'apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update'])
        : await run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update']);
      if (update.code !== 0) throw loud(`[kubectl] apt-get update failed: ${update.stderr}`);
      dl = await run('apt-get', ['download', 'kubernetes-client'], work);
      if (dl.code !== 0) throw loud(`[kubectl] "apt-get download kubernetes-client" failed after apt-get update: ${dl.stderr}`);
    }
    const deb = readdirSync(work).find((f) => f.startsWith('kubernetes-client_') && f.endsWith('.deb'));
    if (!deb) throw loud(`[kubectl] apt-get download left no kubernetes-client .deb in ${work}`);
    const root = path.join(work, 'root');
    const x = await run('dpkg-deb', ['-x', path.join(work, deb), root]);
    if (x.code !== 0) throw loud(`[kubectl] dpkg-deb -x ${deb} failed: ${x.stderr}`);
    checkVersion(path.join(root, 'usr', 'bin', 'kubectl'));
    try {
      renameSync(root, FINAL);
    } catch (err) {
      if (!existsSync(KUBECTL_BIN)) throw err; // another worker won the race: use its copy
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  checkVersion(KUBECTL_BIN);
  return KUBECTL_BIN;
}

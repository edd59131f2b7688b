import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/*
 * Makes sure the real servers the registry tests need are on this machine: Debian's `zookeeper`
 * (a Java app: its jar under /usr/share/java plus a JRE) and `etcd-server` (/usr/bin/etcd). When one is
 * missing and we are root, apt installs both once; when that is impossible we fail loudly — the
 * registry tests are never skipped silently.
 */

export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
export const ETCD_BIN = '/usr/bin/etcd';

export interface ServerBinaries {
  java: string;
  zookeeperJar: string;
  etcd: string;
}

function which(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

function find(): Partial<ServerBinaries> {
  const found: Partial<ServerBinaries> = {};
  const java = which('java');
  if (java) found.java = java;
  if (existsSync(ZOOKEEPER_JAR)) found.zookeeperJar = ZOOKEEPER_JAR;
  const etcd = existsSync(ETCD_BIN) ? ETCD_BIN : which('etcd');
  if (etcd) found.etcd = etcd;
  return found;
}

function complete(b: Partial<ServerBinaries>): b is ServerBinaries {
  return Boolean(b.java && b.zookeeperJar && b.etcd);
}

function loud(message: string): Error {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${message}\n${bar}\n\n`);
  return new Error(message);
}

/** Async, so the vitest main process (which hosts the globalSetup) keeps serving its workers meanwhile. */
function run(cmd: string, args: string[]): Promise<void> {
  process.stderr.write(`[test-servers] ${cmd} ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 15 * 60_000,
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.once('error', (err) => reject(loud(`[test-servers] "${cmd}" could not run: ${err.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(loud(`[test-servers] "${cmd} ${args.join(' ')}" failed (${signal ?? `exit ${code}`}): ${stderr}`));
    });
  });
}

export interface InstallReport extends ServerBinaries {
  installed: boolean;
  installMs: number;
}

export async function ensureServersInstalled(): Promise<InstallReport> {
  const started = performance.now();
  let found = find();
  if (complete(found)) return { ...found, installed: false, installMs: 0 };
  const missing = [!found.java && 'java', !found.zookeeperJar && ZOOKEEPER_JAR, !found.etcd && 'etcd'].filter(Boolean).join(', ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // CI runners (GitHub Actions…) are not root but have passwordless sudo.
  const sudo = !isRoot && which('sudo') !== undefined && spawnSync('sudo', ['-n', 'true']).status === 0;
  if ((!isRoot && !sudo) || !which('apt-get')) {
    throw loud(
      `[test-servers] ZooKeeper/etcd are missing (${missing}) and cannot be installed here ` +
        `(${which('apt-get') ? 'not root and no passwordless sudo' : 'no apt-get'}). The registry tests need real servers: run ` +
        `"sudo apt-get install -y --no-install-recommends zookeeper etcd-server" and retry.`,
    );
  }
  process.stderr.write(`[test-servers] missing ${missing}: installing the Debian packages zookeeper and etcd-server…\n`);
  // Wait for dpkg's lock instead of failing when another test run (or unattended-upgrades) holds it.
  const apt = (args: string[]) => (sudo ? run('sudo', ['-n', '-E', 'apt-get', ...args]) : run('apt-get', args));
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  await apt([...lock, 'update']);
  await apt([...lock, 'install', '-y', '--no-install-recommends', 'zookeeper', 'etcd-server']);
  found = find();
  if (!complete(found)) throw loud(`[test-servers] apt-get installed the packages but ${missing} is still not found`);
  const installMs = Math.round(performance.now() - started);
  process.stderr.write(`[test-servers] installed zookeeper and etcd-server in ${installMs} ms\n`);
  return { ...found, installed: true, installMs };
}

/*
 * The network-partition fault tests (test/faults/netns) need iproute2 (`ip netns`, veth, bridge) and
 * nftables (`nft`). Same policy as the servers above: apt installs them when missing and we are root
 * (or have passwordless sudo); otherwise a loud failure, never a skip.
 */
export interface NetworkTools {
  ip: string;
  nft: string;
  installed: boolean;
  installMs: number;
}

// root's tools live in sbin, which a non-root PATH often lacks.
const sbinTool = (name: string) => [`/usr/sbin/${name}`, `/sbin/${name}`, `/usr/bin/${name}`].find((p) => existsSync(p)) ?? which(name);

export async function ensureNetworkToolsInstalled(): Promise<NetworkTools> {
  const started = performance.now();
  const ip = sbinTool('ip');
  const nft = sbinTool('nft');
  if (ip && nft) return { ip, nft, installed: false, installMs: 0 };
  const missing = [!ip && 'ip (iproute2)', !nft && 'nft (nftables)'].filter(Boolean).join(', ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = !isRoot && which('sudo') !== undefined && spawnSync('sudo', ['-n', 'true']).status === 0;
  if ((!isRoot && !sudo) || !which('apt-get')) {
    throw loud(
      `[test-servers] ${missing} missing and cannot be installed here ` +
        `(${which('apt-get') ? 'not root and no passwordless sudo' : 'no apt-get'}). The network-partition tests need them: run ` +
        `"sudo apt-get install -y --no-install-recommends iproute2 nftables" and retry.`,
    );
  }
  process.stderr.write(`[test-servers] missing ${missing}: installing the Debian packages iproute2 and nftables…\n`);
  const apt = (args: string[]) => (sudo ? run('sudo', ['-n', '-E', 'apt-get', ...args]) : run('apt-get', args));
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  await apt([...lock, 'update']);
  await apt([...lock, 'install', '-y', '--no-install-recommends', 'iproute2', 'nftables']);
  const ipAfter = sbinTool('ip');
  const nftAfter = sbinTool('nft');
  if (!ipAfter || !nftAfter) throw loud(`[test-servers] apt-get installed iproute2 and nftables but ${missing} is still not found`);
  const installMs = Math.round(performance.now() - started);
  process.stderr.write(`[test-servers] installed iproute2 and nftables in ${installMs} ms\n`);
  return { ip: ipAfter, nft: nftAfter, installed: true, installMs };
}

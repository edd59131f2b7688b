import { spawn, spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/server.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { spawnDnsServer, type DnsServerProcess } from '../servers/dns-server.js';

/*
 * The package as users install it: `npm pack` (its prepack builds), the tarball installed into an
 * empty project with nothing else, and that project checked through the installed package only:
 * documented entry points, the bin, the weight of an install without the optional peer clients, the
 * methods that need no client working (against the DNS server and the Consul and Kubernetes
 * emulators), a ConfigError naming `npm install …` for each method whose client is missing, and the
 * named command making its method work. `npm run test:node22` runs this file on Node 22 as well.
 *
 * npm is the one on PATH, started on this process's node (its directory goes first on PATH), and
 * installs through the npm cache (--prefer-offline); the registry is asked only for what the cache
 * lacks.
 */

const repo = path.resolve(import.meta.dirname, '../..');
const repoPkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };
const NO_CLIENT = ['static', 'file', 'aggregate', 'dns', 'consul', 'kubernetes-api'];
const WITH_CLIENT = ['aws-ec2-tags', 'aws-ecs', 'aws-ecs-task-set', 'zookeeper', 'etcd'];
const METHODS = [...NO_CLIENT, ...WITH_CLIENT];
const PEERS = ['@aws-sdk/client-ec2', '@aws-sdk/client-ecs', 'etcd3', 'node-zookeeper-client'];
const MB = 1_000_000;

/** Children run on this process's node, with no npm_* variables of an outer `npm test`. */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries({ ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` }).filter(
    ([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE_OPTIONS',
  ),
);
childEnv.npm_config_update_notifier = 'false';
childEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Asynchronous (the emulators serving the child live in this process). */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string): Promise<Run> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Apparent size of a tree (files and symlinks themselves), in bytes. */
function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(p) : lstatSync(p).size;
  }
  return total;
}

/*
 * The check, run inside the project: it imports the installed package only. argv[2] is JSON:
 * { discovery: {name: config}, lookups: {name: service} }. Prints one JSON line.
 */
const CHECK = `
import * as core from 'clusterseed';
import * as testing from 'clusterseed/testing';
const input = JSON.parse(process.argv[2]);
const methods = ${JSON.stringify(METHODS)};
const out = { core: [], testing: Object.keys(testing).sort(), providers: {}, deep: {}, discovery: {} };
out.core = ['createDiscovery', 'bootstrap', 'loadConfig', 'ConfigError', 'CANONICAL_METHODS'].filter((k) => core[k] !== undefined);
const clock = new testing.VirtualClock();
const fake = new testing.InMemoryProvider();
fake.set('x', [{ host: '10.0.0.2', port: 1 }]);
out.testingWorks = typeof clock.now() === 'number' && (await fake.resolve({ service: 'x' })).length === 1;
for (const m of methods) {
  try {
    const mod = await import('clusterseed/providers/' + m);
    out.providers[m] = { method: mod.definition?.method, create: typeof mod.definition?.create };
  } catch (e) {
    out.providers[m] = { error: e.code, message: e.message };
  }
}
const deepSpecs = [
  'clusterseed/providers/etcd/client',
  'clusterseed/providers/aws-common',
  'clusterseed/dist/src/index.js',
  'clusterseed/src/index.ts',
  'clusterseed/providers/static/index.js',
];
for (const spec of deepSpecs) {
  try {
    await import(spec);
    out.deep[spec] = 'imported';
  } catch (e) {
    out.deep[spec] = e.code;
  }
}
for (const [name, config] of Object.entries(input.discovery)) {
  try {
    const d = await core.createDiscovery(config, { env: {} });
    const r = { created: d.method };
    const service = input.lookups[name];
    if (service) r.contactPoints = (await d.resolve({ service }, { timeoutMs: 10000 })).map((p) => (p.port === undefined ? p.host : p.host + ':' + p.port));
    await d.close();
    out.discovery[name] = r;
  } catch (e) {
    out.discovery[name] = { error: e.code, isConfigError: e instanceof core.ConfigError, message: e.message, hint: e.hint };
  }
}
console.log(JSON.stringify(out));
`;

interface Check {
  core: string[];
  testing: string[];
  testingWorks: boolean;
  providers: Record<string, { method?: string; create?: string; error?: string; message?: string }>;
  deep: Record<string, string>;
  discovery: Record<string, { created?: string; contactPoints?: string[]; error?: string; isConfigError?: boolean; message?: string; hint?: string }>;
}

let work: string;
let project: string;
let tarball: string;
let packed: { files: { path: string }[]; size: number; unpackedSize: number };
let install: Run;
let dns: DnsServerProcess;
let consul: ConsulEmulator;
let kube: KubernetesEmulator;
const timings: Record<string, number> = {};

const discoveryConfigs = () => ({
  static: { method: 'static', contactPoints: ['10.0.0.10:7626', '10.0.0.2:7626'] },
  file: { method: 'file', directory: path.join(work, 'file-registry') },
  aggregate: { method: 'aggregate', methods: [{ method: 'static', contactPoints: ['10.0.0.3:7626'] }] },
  dns: { method: 'dns', name: 'seeds.clusterseed.test.', nameservers: [dns.address] },
  consul: { method: 'consul', host: '127.0.0.1', port: consul.port },
  'kubernetes-api': {
    method: 'kubernetes-api',
    apiServer: kube.url,
    caFile: kube.caFile,
    tokenFile: kube.tokenFile,
    namespace: 'default',
    portName: 'management',
  },
  'aws-ec2-tags': { method: 'aws-ec2-tags', region: 'eu-west-1' },
  'aws-ecs': { method: 'aws-ecs', region: 'eu-west-1', cluster: 'prod' },
  'aws-ecs-task-set': { method: 'aws-ecs-task-set', region: 'eu-west-1' },
  zookeeper: { method: 'zookeeper', connectionString: '127.0.0.1:1' },
  etcd: { method: 'etcd', endpoints: ['http://127.0.0.1:1'] },
});
const LOOKUPS = { static: 'x', file: 'x', aggregate: 'x', dns: 'seeds', consul: 'api', 'kubernetes-api': 'web' };

async function check(): Promise<Check> {
  const r = await ok(process.execPath, ['check.mjs', JSON.stringify({ discovery: discoveryConfigs(), lookups: LOOKUPS })], project);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Check;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-pack-'));
  // What npm pack reads, copied: its prepack (a clean build) and postpack then touch the copy, not
  // the working tree that other tests read dist/ from.
  const source = path.join(work, 'source');
  for (const f of ['package.json', 'README.md', 'tsconfig.json', 'src', 'providers', 'docs', 'scripts']) {
    cpSync(path.join(repo, f), path.join(source, f), { recursive: true });
  }
  symlinkSync(path.join(repo, 'node_modules'), path.join(source, 'node_modules'));
  const pack = await ok('npm', ['pack', '--json', '--pack-destination', work], source);
  timings.pack = pack.ms;
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
  tarball = path.join(work, `clusterseed-${repoPkg.version}.tgz`);
  expect(readFileSync(path.join(source, 'package.json'), 'utf8')).toBe(readFileSync(path.join(repo, 'package.json'), 'utf8'));

  project = path.join(work, 'project');
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name: 'pack-test-project', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  writeFileSync(path.join(project, 'check.mjs'), CHECK);
  install = await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], project);
  timings.install = install.ms;

  [dns, consul, kube] = await Promise.all([
    spawnDnsServer({
      records: [
        { name: 'seeds.clusterseed.test', type: 'A', data: '10.0.0.7' },
        { name: 'seeds.clusterseed.test', type: 'A', data: '10.0.0.5' },
      ],
    }),
    startConsulEmulator(),
    startKubernetesEmulator(),
  ]);
  consul.state.registerService(consul.state.agentNode, { Name: 'api', ID: 'api-1', Address: '10.0.1.1', Port: 7626 }, [{ TTL: '1h', Status: 'passing' }]);
  kube.addPod({
    name: 'web-0',
    labels: { app: 'web' },
    phase: 'Running',
    podIP: '10.1.0.1',
    containers: [{ name: 'app', ports: [{ name: 'management', containerPort: 7626 }] }],
  });
}, 240_000);

afterAll(async () => {
  await Promise.all([dns?.stop(), consul?.stop(), kube?.close()]);
  if (work) rmSync(work, { recursive: true, force: true });
  if (Object.keys(timings).length > 0) process.stderr.write(`[pack] ${JSON.stringify(timings)}\n`);
});

describe('the packed tarball installed into an empty project', { timeout: 120_000 }, () => {
  let noPeers: Check;

  it('ships the build and no install script, and installs without a warning about one', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toContain('dist/src/index.js');
    expect(files).toContain('dist/providers/etcd/index.js');
    expect(files).toContain('dist/providers/etcd/index.d.ts');
    expect(files).toContain('docs/installing.md');
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('providers/') || f.startsWith('test/') || f.startsWith('scripts/'))).toEqual([]);
    const installed = JSON.parse(readFileSync(path.join(project, 'node_modules/clusterseed/package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) expect(installed.scripts?.[s], s).toBeUndefined();
    expect(repoPkg.scripts.prepare).toMatch(/\btsc\b/); // the repository still builds on npm install
    expect(install.stderr).not.toMatch(/install-scripts|clusterseed@.*prepare/);
  });

  it('without the optional peers: no platform client installed, under 15 MB', () => {
    for (const peer of PEERS) expect(() => lstatSync(path.join(project, 'node_modules', peer)), peer).toThrow();
    const bytes = treeBytes(path.join(project, 'node_modules'));
    timings.noPeersBytes = bytes;
    expect(bytes).toBeLessThan(15 * MB);
    // And on disk, as du counts it (the 76 MB was du's figure).
    const du = spawnSync('du', ['-sk', path.join(project, 'node_modules')], { encoding: 'utf8' });
    expect(du.status, du.stderr).toBe(0);
    timings.noPeersDiskBytes = Number.parseInt(du.stdout, 10) * 1024;
    expect(timings.noPeersDiskBytes).toBeLessThan(15 * MB);
  });

  it('every documented entry point imports; deep private paths are refused', async () => {
    noPeers = await check();
    expect(noPeers.core).toEqual(['createDiscovery', 'bootstrap', 'loadConfig', 'ConfigError', 'CANONICAL_METHODS']);
    expect(noPeers.testing).toEqual(['InMemoryProvider', 'VirtualClock', 'flushMicrotasks']);
    expect(noPeers.testingWorks).toBe(true);
    for (const m of NO_CLIENT) expect(noPeers.providers[m], m).toEqual({ method: m, create: 'function' });
    // A method's own entry needs its client (the ConfigError below is createDiscovery's).
    for (const m of WITH_CLIENT) expect(noPeers.providers[m]?.error, m).toBe('ERR_MODULE_NOT_FOUND');
    expect(noPeers.deep).toEqual({
      'clusterseed/providers/etcd/client': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'clusterseed/providers/aws-common': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'clusterseed/dist/src/index.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'clusterseed/src/index.ts': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      'clusterseed/providers/static/index.js': 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });

  it('static, file, aggregate, dns, consul and kubernetes-api work without any client', () => {
    expect(noPeers.discovery.static).toEqual({ created: 'static', contactPoints: ['10.0.0.2:7626', '10.0.0.10:7626'] });
    expect(noPeers.discovery.file).toEqual({ created: 'file', contactPoints: [] });
    expect(noPeers.discovery.aggregate).toEqual({ created: 'aggregate', contactPoints: ['10.0.0.3:7626'] });
    expect(noPeers.discovery.dns).toEqual({ created: 'dns', contactPoints: ['10.0.0.5', '10.0.0.7'] });
    expect(noPeers.discovery.consul).toEqual({ created: 'consul', contactPoints: ['10.0.1.1:7626'] });
    expect(noPeers.discovery['kubernetes-api']).toEqual({ created: 'kubernetes-api', contactPoints: ['10.1.0.1:7626'] });
  });

  it('a method whose client is missing is a ConfigError naming the npm install command', () => {
    const expected: Record<string, RegExp> = {
      etcd: /^npm install etcd3@\^1\.\d+\.\d+ /,
      zookeeper: /^npm install node-zookeeper-client@\d+\.\d+\.\d+ /,
      'aws-ec2-tags': /^npm install @aws-sdk\/client-ec2@\^3\.\d+\.\d+ /,
      'aws-ecs': /^npm install @aws-sdk\/client-ecs@\^3\.\d+\.\d+ @aws-sdk\/client-ec2@\^3\.\d+\.\d+ /,
      'aws-ecs-task-set': /^npm install @aws-sdk\/client-ecs@\^3\.\d+\.\d+ @aws-sdk\/client-ec2@\^3\.\d+\.\d+ /,
    };
    for (const m of WITH_CLIENT) {
      const r = noPeers.discovery[m]!;
      expect(r.error, m).toBe('CLUSTERSEED_E_CONFIG');
      expect(r.isConfigError, m).toBe(true);
      expect(r.message, m).toMatch(new RegExp(`^discovery\\.method "${m}" needs the packages? .* not installed`));
      expect(r.hint, m).toMatch(expected[m]!);
    }
  });

  it('npx clusterseed: --version, resolve, demo, and the missing client on the CLI (exit 2, one stderr line)', async () => {
    const version = await ok('npx', ['--no-install', 'clusterseed', '--version'], project);
    expect(version.stdout.trim()).toBe(repoPkg.version);
    const node = await ok('npx', ['--no-install', 'node', '--version'], project);
    expect(node.stdout.trim()).toBe(process.version); // the bin ran on the node under test
    const resolve = await ok(
      'npx',
      [
        '--no-install',
        'clusterseed',
        'resolve',
        '--service',
        'x',
        '--discovery',
        'method=static contactPoints=10.0.0.10:7626,10.0.0.2:7626',
        '--format',
        'lines',
      ],
      project,
    );
    expect(resolve.stdout).toBe('10.0.0.2:7626\n10.0.0.10:7626\n');
    const demo = await ok('npx', ['--no-install', 'clusterseed', 'demo', '--nodes', '3'], project);
    timings.demo = demo.ms;
    expect(demo.stdout).toMatch(/all 3 nodes agree on one cluster/);
    const etcd = await run(
      'npx',
      ['--no-install', 'clusterseed', 'resolve', '--service', 'x', '--discovery', 'method=etcd endpoints=http://127.0.0.1:1'],
      project,
    );
    expect(etcd.code).toBe(2);
    expect(etcd.stdout).toBe('');
    expect(etcd.stderr.trim().split('\n')).toHaveLength(1);
    expect(etcd.stderr).toMatch(/^clusterseed: discovery\.method "etcd" needs the package etcd3, which is not installed — npm install etcd3@\^/);
  });

  it('the named npm install command enables its method; then every client at once', async () => {
    const command = noPeers.discovery.etcd!.hint!.match(/^npm install (\S+)/)!;
    const added = await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', command[1]!], project);
    timings.installEtcd = added.ms;
    const withEtcd = await check();
    expect(withEtcd.discovery.etcd).toEqual({ created: 'etcd' });
    expect(withEtcd.providers.etcd).toEqual({ method: 'etcd', create: 'function' });
    expect(withEtcd.discovery.zookeeper?.error).toBe('CLUSTERSEED_E_CONFIG');
    timings.etcdBytes = treeBytes(path.join(project, 'node_modules'));

    const rest = ['zookeeper', 'aws-ecs'].flatMap((m) =>
      noPeers.discovery[m]!.hint!.match(/^npm install ((?:\S+@\S+ ?)+)/)![1]!
        .trim()
        .split(' '),
    );
    const all = await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...rest], project);
    timings.installRest = all.ms;
    const everything = await check();
    for (const m of METHODS) {
      expect(everything.providers[m], m).toEqual({ method: m, create: 'function' });
      expect(everything.discovery[m]?.created, m).toBe(m);
    }
    timings.allPeersBytes = treeBytes(path.join(project, 'node_modules'));
  });
});

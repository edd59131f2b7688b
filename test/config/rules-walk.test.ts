// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the table matches source text that contains template placeholders
/*
 * The schema is the single source of truth (issue 11, DESIGN §3 "Validation is complete before any
 * side effect"): every configuration-level rule that a provider's create(), resolve() or register(),
 * bootstrap() or the self-address code enforces is in the zod schema, so `clusterseed config check`,
 * parseConfig()/loadConfig() and the CLI commands reject the same set — with exit 2 and one stderr
 * line naming the key — before an endpoint binds or a server is contacted.
 *
 * Two tables:
 * - RULES: one minimal violating config per schema rule. Each is walked through parseConfig, then the
 *   built CLI: `config check FILE`, `bootstrap --config FILE` and `resolve --config FILE` must all exit
 *   2 with the same single stderr line naming the key path. The configs ask for a management port the
 *   test holds, so a command that got as far as binding would fail differently (already in use).
 * - SITES: every `new ConfigError(` in providers/** and src/** (outside src/config, the validator
 *   itself), each either covered by a RULE (the runtime check stays as a defence that a valid config
 *   cannot reach) or marked environment / runtime / api with the reason. A new call site that is in
 *   neither table fails the test; so does an entry whose call site is gone.
 *
 * Needs dist/ (npm test's pretest builds it; else `npx tsc -p tsconfig.json`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANONICAL_METHODS } from '../../src/config/discovery.js';
import { parseConfig } from '../../src/config/load.js';
import { LOCK_CAPABLE_METHODS } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const repo = path.resolve(import.meta.dirname, '../..');
const cliPath = path.join(repo, 'dist/src/cli/main.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-rules-'));
/** A readable file, for rules about TLS files that need one file present and another absent. */
const present = path.join(dir, 'present.pem');
writeFileSync(present, 'not checked by the schema, only its existence\n');
const absent = path.join(dir, 'absent.pem');

type Json = Record<string, unknown>;

interface Rule {
  id: string;
  /** What is refused, in words. */
  rule: string;
  /** The minimal violating config (service and management are added). */
  config: Json;
  /** The key path the error must name first. */
  path: string;
}

const NO_LOCK = CANONICAL_METHODS.filter((m) => !(LOCK_CAPABLE_METHODS as readonly string[]).includes(m));
/** A config of each lock-less method that is otherwise valid. */
const plain: Record<string, Json> = {
  static: { method: 'static', contactPoints: ['127.0.0.1:7626'] },
  dns: { method: 'dns', nameservers: ['127.0.0.1'] },
  'aws-ec2-tags': { method: 'aws-ec2-tags', region: 'us-east-1' },
  'aws-ecs': { method: 'aws-ecs', region: 'us-east-1' },
  'aws-ecs-task-set': { method: 'aws-ecs-task-set', region: 'us-east-1' },
  aggregate: { method: 'aggregate', methods: [{ method: 'static', contactPoints: ['127.0.0.1:7626'] }] },
};

const RULES: Rule[] = [
  ...NO_LOCK.map((m) => ({
    id: `lock-${m}`,
    rule: `bootstrap.strategy "lock" with ${m}, which has no lock`,
    config: { discovery: plain[m]!, bootstrap: { strategy: 'lock' } },
    path: 'bootstrap.strategy',
  })),
  {
    id: 'lock-kubernetes-portName',
    rule: 'bootstrap.strategy "lock" on kubernetes-api without portName',
    config: { discovery: { method: 'kubernetes-api', apiServer: 'https://127.0.0.1:6443' }, bootstrap: { strategy: 'lock' } },
    path: 'discovery.portName',
  },
  {
    id: 'ecs-bridge',
    rule: 'aws-ecs networkMode "bridge" without containerPort',
    config: { discovery: { method: 'aws-ecs', networkMode: 'bridge' } },
    path: 'discovery.containerPort',
  },
  {
    id: 'ecs-task-set-bridge',
    rule: 'aws-ecs-task-set networkMode "bridge" without containerPort',
    config: { discovery: { method: 'aws-api-ecs-task-set-async', networkMode: 'bridge' } },
    path: 'discovery.containerPort',
  },
  {
    id: 'aggregate-nested',
    rule: 'a nested method is held to its own rules (bridge inside aggregate)',
    config: { discovery: { method: 'aggregate', methods: [{ method: 'aws-ecs', networkMode: 'bridge' }] } },
    path: 'discovery.methods[0].containerPort',
  },
  {
    id: 'ec2-filters',
    rule: 'an aws-ec2-tags filters string that does not parse',
    config: { discovery: { method: 'aws-ec2-tags', filters: 'tag:env=prod;instance-type' } },
    path: 'discovery.filters',
  },
  {
    id: 'aws-endpoint',
    rule: 'an AWS endpoint that is not a URL',
    config: { discovery: { method: 'aws-ec2-tags', endpoint: 'localhost 4566' } },
    path: 'discovery.endpoint',
  },
  {
    id: 'dns-nameserver-name',
    rule: 'dns nameservers given as host names',
    config: { discovery: { method: 'dns', nameservers: ['ns1.example.com'] } },
    path: 'discovery.nameservers[0]',
  },
  {
    id: 'dns-srv-pair',
    rule: 'dns portName without protocol (the SRV name needs both)',
    config: { discovery: { method: 'dns', nameservers: ['127.0.0.1'], portName: 'management' } },
    path: 'discovery.protocol',
  },
  {
    id: 'k8s-http',
    rule: 'kubernetes-api apiServer without https://',
    config: { discovery: { method: 'kubernetes-api', apiServer: 'http://10.96.0.1:443' } },
    path: 'discovery.apiServer',
  },
  { id: 'unknown-method', rule: 'an unknown discovery method', config: { discovery: { method: 'zookeper' } }, path: 'discovery.method' },
  { id: 'self-mode', rule: 'an unknown self.mode', config: { self: { mode: 'docker' } }, path: 'self.mode' },
  { id: 'self-host-and-mode', rule: 'self.host and self.mode together', config: { self: { host: '127.0.0.1', mode: 'interface' } }, path: 'self.mode' },
  {
    id: 'self-interface-cidr',
    rule: 'a self.interface CIDR that does not parse',
    config: { self: { mode: 'interface', interface: '10.0.0.0/33' } },
    path: 'self.interface',
  },
  {
    id: 'zk-connection-string',
    rule: 'a zookeeper connectionString the client cannot parse (no server, bad port, bad chroot)',
    config: { discovery: { method: 'zookeeper', connectionString: '127.0.0.1:2181/apps/' } },
    path: 'discovery.connectionString',
  },
  {
    id: 'zk-digest-pair',
    rule: 'zookeeper username without password',
    config: { discovery: { method: 'zookeeper', connectionString: '127.0.0.1:2181', username: 'app' } },
    path: 'discovery.password',
  },
  { id: 'consul-pair', rule: 'consul certFile without keyFile', config: { discovery: { method: 'consul', certFile: present } }, path: 'discovery.keyFile' },
  {
    id: 'consul-servername-ip',
    rule: 'consul tlsServerName given as an IP address',
    config: { discovery: { method: 'consul', tlsServerName: '10.0.0.5' } },
    path: 'discovery.tlsServerName',
  },
  {
    id: 'consul-ca-missing',
    rule: 'a consul caFile that does not exist',
    config: { discovery: { method: 'consul', caFile: absent } },
    path: 'discovery.caFile',
  },
  {
    id: 'etcd-mixed-schemes',
    rule: 'etcd endpoints mixing http:// and https://',
    config: { discovery: { method: 'etcd', endpoints: ['http://127.0.0.1:2379', 'https://127.0.0.1:2380'] } },
    path: 'discovery.endpoints',
  },
  {
    id: 'etcd-ca-missing',
    rule: 'an etcd caFile that does not exist',
    config: { discovery: { method: 'etcd', endpoints: ['https://127.0.0.1:2379'], caFile: absent } },
    path: 'discovery.caFile',
  },
  {
    id: 'mgmt-tls-missing',
    rule: 'a management.tls certFile that does not exist',
    config: { management: { tls: { certFile: absent, keyFile: present } } },
    path: 'management.tls.certFile',
  },
  {
    id: 'mgmt-mtls-ca',
    rule: 'management.tls requireClientCert without caFile',
    config: { management: { tls: { certFile: present, keyFile: present, requireClientCert: true } } },
    path: 'management.tls.caFile',
  },
];

type Site =
  | { file: string; match: string; covered: string; note?: string }
  | { file: string; match: string; environment: string }
  | { file: string; match: string; runtime: string }
  | { file: string; match: string; api: string };

/**
 * Every `new ConfigError(` outside src/config. `match` is a piece of the call's text (the line and the
 * two after it). `covered`: the RULES id that refuses the same thing first. `environment`: depends on
 * what only start-up can see (variables, file contents, the machine). `runtime`: on what a server
 * answers. `api`: programmatic use only, never a config file.
 */
const SITES: Site[] = [
  // Core.
  { file: 'src/bootstrap/index.ts', match: '"lock" needs a lock-capable discovery method', covered: 'lock-static' },
  { file: 'src/bootstrap/index.ts', match: '"join" must be a function', api: 'a bootstrap() hook, not configuration' },
  { file: 'src/lock/lock-strategy.ts', match: 'needs a registry with a lock', covered: 'lock-static' },
  { file: 'src/registry.ts', match: 'unknown method', covered: 'unknown-method' },
  { file: 'src/registry.ts', match: 'needs ${what}', environment: "which packages are installed (a method's optional peer client)" },
  { file: 'src/self-address/index.ts', match: 'self.mode: expected one of', covered: 'self-mode' },
  { file: 'src/self-address/interface.ts', match: 'is neither an interface name nor an IPv4 CIDR', covered: 'self-interface-cidr' },
  { file: 'src/self-address/interface.ts', match: 'no non-internal IPv4 address matches', environment: "the machine's interfaces" },
  { file: 'src/self-address/interface.ts', match: 'matches several non-internal IPv4 addresses', environment: "the machine's interfaces (several candidates)" },
  { file: 'src/self-address/ecs.ts', match: 'self.containerPort: container', environment: 'the ECS task metadata (which ports the container maps)' },
  { file: 'src/bootstrap/endpoint.ts', match: 'is already in use', environment: 'the machine (another process holds the port)' },
  { file: 'src/bootstrap/endpoint.ts', match: 'no such local address', environment: "the machine's addresses" },
  { file: 'src/bootstrap/endpoint.ts', match: 'not allowed to bind', environment: 'the privileges of the process' },
  {
    file: 'src/bootstrap/tls.ts',
    match: 'management.tls.${issue.key}',
    // The same checkManagementTls runs in the schema (existence, PEM, key of the certificate, usages):
    // at start-up it only sees files that changed between the check and the start.
    environment: 'the files at start-up (the schema ran the same checks: mgmt-tls-missing)',
  },
  { file: 'src/cli/jvm-format.ts', match: 'has no port, so its', runtime: 'the decided seeds (a method that reports no port) against the CLI flags' },
  // AWS.
  { file: 'providers/aws-common/client-config.ts', match: 'expected a URL such as', covered: 'aws-endpoint', note: 'AWS_ENDPOINT_URL* are environment' },
  { file: 'providers/aws-common/errors.ts', match: 'no AWS region configured', environment: 'the region comes from the option, AWS_REGION or the SDK profile' },
  { file: 'providers/aws-ecs/index.ts', match: 'required with networkMode "bridge"', covered: 'ecs-bridge' },
  { file: 'providers/aws-ecs/discover.ts', match: 'running ECS task(s) could not be used', runtime: 'the task definitions ECS reports' },
  { file: 'providers/aws-ecs-task-set/index.ts', match: 'has no startedBy', runtime: 'what ECS reports about this task' },
  { file: 'providers/aws-ec2-tags/filters.ts', match: 'discovery.filters:', covered: 'ec2-filters' },
  // DNS.
  { file: 'providers/dns/index.ts', match: 'is not an IP address', covered: 'dns-nameserver-name', note: "the system resolver's servers are environment" },
  { file: 'providers/dns/index.ts', match: 'the system resolver has none', environment: '/etc/resolv.conf' },
  // Kubernetes.
  { file: 'providers/kubernetes-api/client.ts', match: 'expected https://', covered: 'k8s-http' },
  { file: 'providers/kubernetes-api/in-cluster.ts', match: 'expected an https:// URL', covered: 'k8s-http' },
  { file: 'providers/kubernetes-api/client.ts', match: 'cannot read the cluster CA', environment: 'the service-account files mounted in the pod' },
  { file: 'providers/kubernetes-api/client.ts', match: 'holds no PEM certificate', environment: 'file contents' },
  { file: 'providers/kubernetes-api/token.ts', match: 'cannot read the service-account token', environment: 'the service-account files mounted in the pod' },
  { file: 'providers/kubernetes-api/in-cluster.ts', match: 'KUBERNETES_SERVICE_HOST is not in the environment', environment: 'KUBERNETES_SERVICE_HOST' },
  { file: 'providers/kubernetes-api/in-cluster.ts', match: 'KUBERNETES_SERVICE_PORT:', environment: 'KUBERNETES_SERVICE_PORT' },
  { file: 'providers/kubernetes-api/in-cluster.ts', match: 'KUBERNETES_SERVICE_HOST: ${', environment: 'KUBERNETES_SERVICE_HOST' },
  {
    file: 'providers/kubernetes-api/in-cluster.ts',
    match: 'discovery.namespaceFile: cannot read',
    environment: 'the service-account files mounted in the pod',
  },
  { file: 'providers/kubernetes-api/in-cluster.ts', match: 'is not a namespace name', environment: 'file contents' },
  { file: 'providers/kubernetes-api/pods.ts', match: 'the API server rejected', runtime: 'the API server judges label selectors' },
  // Consul.
  { file: 'providers/consul/client.ts', match: 'expected true or false', environment: 'CONSUL_HTTP_SSL' },
  { file: 'providers/consul/client.ts', match: 'CONSUL_HTTP_ADDR: scheme', environment: 'CONSUL_HTTP_ADDR' },
  { file: 'providers/consul/client.ts', match: 'CONSUL_HTTP_ADDR: ${', environment: 'CONSUL_HTTP_ADDR' },
  { file: 'providers/consul/client.ts', match: "'certFile' : 'keyFile'}: required with", covered: 'consul-pair' },
  { file: 'providers/consul/client.ts', match: '`${missing}: required with ${given}`', environment: 'CONSUL_CLIENT_CERT / CONSUL_CLIENT_KEY' },
  {
    file: 'providers/consul/client.ts',
    match: 'expected a DNS name, got the IP address',
    covered: 'consul-servername-ip',
    note: 'CONSUL_TLS_SERVER_NAME is environment',
  },
  { file: 'providers/consul/client.ts', match: 'cannot be used for TLS', environment: 'file contents (PEM, key matches certificate)' },
  {
    file: 'providers/consul/client.ts',
    match: "code === 'ENOENT' ?",
    environment: 'reading the file at start-up (CONSUL_CACERT…; options are checked by the schema: consul-ca-missing)',
  },
  { file: 'providers/consul/client.ts', match: 'holds no ${expected}', environment: 'file contents' },
  // etcd.
  { file: 'providers/etcd/settings.ts', match: "?.message ?? 'invalid file'", environment: 'ETCDCTL_CACERT / ETCDCTL_CERT / ETCDCTL_KEY files' },
  {
    file: 'providers/etcd/settings.ts',
    match: 'cannot be read (',
    environment: 'reading the file at start-up (options are checked by the schema: etcd-ca-missing)',
  },
  { file: 'providers/etcd/settings.ts', match: 'required (or set ETCDCTL_ENDPOINTS)', environment: 'ETCDCTL_ENDPOINTS may supply the endpoints' },
  { file: 'providers/etcd/settings.ts', match: 'ETCDCTL_ENDPOINTS: expected comma-separated', environment: 'ETCDCTL_ENDPOINTS' },
  { file: 'providers/etcd/settings.ts', match: 'ETCDCTL_ENDPOINTS: ${problem}', environment: 'ETCDCTL_ENDPOINTS' },
  { file: 'providers/etcd/settings.ts', match: 'ETCDCTL_KEY: required when', environment: 'ETCDCTL_CERT / ETCDCTL_KEY' },
  { file: 'providers/etcd/settings.ts', match: 'ETCDCTL_CERT: required when', environment: 'ETCDCTL_CERT / ETCDCTL_KEY' },
  {
    file: 'providers/etcd/settings.ts',
    match: '`${where}: ${p.message}`',
    covered: 'etcd-mixed-schemes',
    note: 'the same tlsProblems with parts from ETCDCTL_* is environment',
  },
  { file: 'providers/etcd/settings.ts', match: 'ETCDCTL_USER: expected user:password', environment: 'ETCDCTL_USER' },
  { file: 'providers/etcd/settings.ts', match: '(no BEGIN CERTIFICATE line)', environment: 'file contents' },
  { file: 'providers/etcd/settings.ts', match: 'is not ${what} (${pemReason(err)})', environment: 'file contents' },
  { file: 'providers/etcd/settings.ts', match: 'is not the PEM private key', environment: 'file contents' },
];

/**
 * `new ConfigError(` call sites: file, line, and the call's text from `new ConfigError(` to the end
 * of its line (plus the next lines when the message starts on the next line).
 */
function callSites(): { file: string; line: number; text: string }[] {
  const out: { file: string; line: number; text: string }[] = [];
  const scan = (r: string) => {
    const lines = readFileSync(path.join(repo, r), 'utf8').split('\n');
    lines.forEach((l, i) => {
      const at = l.indexOf('new ConfigError(');
      if (at < 0) return;
      const rest = l.slice(at);
      out.push({ file: r, line: i + 1, text: rest.trim() === 'new ConfigError(' ? [rest, ...lines.slice(i + 1, i + 4)].join('\n') : rest });
    });
  };
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(repo, rel)).sort()) {
      const r = path.posix.join(rel, name);
      if (statSync(path.join(repo, r)).isDirectory()) walk(r);
      else if (r.endsWith('.ts') && !r.endsWith('.d.ts')) scan(r);
    }
  };
  walk('providers');
  for (const name of readdirSync(path.join(repo, 'src')).sort()) {
    // src/config is the validator itself (its errors are what `config check` prints); src/testing holds test doubles.
    if (name === 'config' || name === 'testing') continue;
    const r = path.posix.join('src', name);
    if (statSync(path.join(repo, r)).isDirectory()) walk(r);
    else if (r.endsWith('.ts')) scan(r);
  }
  return out;
}

describe('every ConfigError call site is a schema rule or says why it cannot be one', () => {
  const sites = callSites();

  it('each call site is listed exactly once', () => {
    const problems: string[] = [];
    for (const s of sites) {
      const entries = SITES.filter((e) => e.file === s.file && s.text.includes(e.match));
      if (entries.length !== 1) {
        problems.push(
          `${s.file}:${s.line} ${entries.length === 0 ? 'is not in SITES' : `matches ${entries.length} SITES entries`}: ${s.text.split('\n')[0]!.trim()}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('no entry is stale, and each covered entry names a rule that is walked', () => {
    const ids = new Set(RULES.map((r) => r.id));
    for (const e of SITES) {
      expect(
        sites.some((s) => s.file === e.file && s.text.includes(e.match)),
        `${e.file}: "${e.match}" matches no call site`,
      ).toBe(true);
      if ('covered' in e) expect(ids.has(e.covered), `${e.file}: unknown rule ${e.covered}`).toBe(true);
    }
  });

  it('LOCK_CAPABLE_METHODS are exactly the methods whose providers have a seed lock', async () => {
    const capable: string[] = [];
    for (const method of CANONICAL_METHODS) {
      const mod = (await import(/* @vite-ignore */ pathToFileURL(path.join(repo, 'providers', method, 'index.ts')).href)) as Record<string, unknown>;
      const classes = Object.values(mod).filter(
        (v): v is { prototype: Record<string, unknown> } => typeof v === 'function' && typeof (v as { prototype?: unknown }).prototype === 'object',
      );
      if (classes.some((c) => typeof c.prototype.seedLock === 'function' && typeof c.prototype.register === 'function')) capable.push(method);
    }
    expect(capable.sort()).toEqual([...LOCK_CAPABLE_METHODS].sort());
  });
});

describe('each rule is refused by parseConfig, config check, bootstrap and resolve alike', () => {
  let holder: net.Server;
  let heldPort = 0;
  beforeAll(async () => {
    // The management port every config asks for: a command that got as far as binding would report it in use.
    holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    heldPort = (holder.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => holder.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const configOf = (rule: Rule): Json => {
    const management = { host: '127.0.0.1', port: heldPort, ...(rule.config.management as Json | undefined) };
    return { service: 'rules', self: { host: '127.0.0.1' }, ...rule.config, management };
  };

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      // Nothing from the test's environment may add to or mend the file.
      execFile(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '' }, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
    });

  it.each(RULES.map((r) => [r.id, r] as const))('%s', async (_id, rule) => {
    const config = configOf(rule);
    let problems: readonly { path: string }[] = [];
    try {
      parseConfig(config);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError & { problems: { path: string }[] }).problems;
    }
    expect(problems[0]?.path, `${rule.rule}: parseConfig`).toBe(rule.path);

    const file = path.join(dir, `${rule.id}.json`);
    writeFileSync(file, JSON.stringify(config));
    const [check, boot, resolve] = await Promise.all([
      cli(['config', 'check', file]),
      cli(['bootstrap', '--config', file, '--exit', '--timeout', '5000']),
      cli(['resolve', '--config', file, '--timeout', '2000']),
    ]);
    expect(check.code, `${rule.rule}: config check`).toBe(2);
    expect(check.stdout).toBe('');
    const lines = check.stderr.split('\n').filter(Boolean);
    expect(lines, `${rule.rule}: one stderr line`).toHaveLength(1);
    expect(lines[0]).toContain(`: ${rule.path}: `);
    for (const [name, r] of [
      ['bootstrap', boot],
      ['resolve', resolve],
    ] as const) {
      // The same first and only line: nothing was logged, bound or contacted before it.
      expect({ command: name, code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ command: name, code: 2, stderr: check.stderr, stdout: '' });
    }
  });
});

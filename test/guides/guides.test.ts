/*
 * Every config, command, task definition, IAM policy and app snippet in docs/guides/ is executed here,
 * so the guides cannot rot. Snippets are marked in their fence's info string (see snippets.ts):
 *   json clusterseed-config [file=PATH]   validated with parseConfig; written to PATH in each node's root
 *   js clusterseed-app file=PATH          written to PATH; run by a task definition's command
 *   sh clusterseed-cli world=W [expect-exit=N]   run with sh -e in world W; a following
 *        text clusterseed-output block must equal its stdout, a text clusterseed-stderr block's lines
 *        must appear in its stderr
 *   json ecs-task-definition world=W      entryPoint+command+environment run as NODE_COUNT real tasks
 *   json iam-policy world=W               must allow every ECS/EC2 action the world's tasks called
 *   yaml k8s-deployment world=kubernetes  an apps/v1 Deployment: its pods are added to the emulated API
 *        server, its first container's command+args+env (downward API fieldRefs included) run as
 *        NODE_COUNT real processes, once per config variant of the page
 *   yaml k8s-rbac world=kubernetes        Role + RoleBinding: must allow every (verb, resource, API group)
 *        the page's nodes and commands called, and grant nothing they did not use
 * A config block with `variant=NAME` replaces the file of the same path only in that variant's run
 * (e.g. the lock strategy); the commands run without variants.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider, type Registration } from '../../src/types.js';
import { getTestServers } from '../servers/index.js';
import { inRoot, mapPaths, readGuide, runScript, start, waitFor, type Block, type Running } from './snippets.js';
import { containerProcess, neededGrants, parseDeployment, parseRbac, podTemplate, type Deployment } from './kubernetes-manifests.js';
import { KUBERNETES_NAMESPACE, kubernetesWorld, podIp, rbacUse, type KubernetesWorld, type RbacUse } from './kubernetes-world.js';
import { baseDirs, baseEnv, bridgeHostPort, ecsAwsvpcWorld, ecsBridgeWorld, fileWorld, imdsHopLimitWorld, NODE_COUNT, type World } from './worlds.js';

const GUIDES = ['pekko-on-ecs-bridge.md', 'node-on-fargate.md', 'pekko-on-kubernetes.md', 'migrating-from-pekko.md', 'troubleshooting.md'];
const pages = new Map<string, Block[]>();
for (const name of GUIDES) pages.set(name, await readGuide(name));

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** The Kubernetes API requests each page's nodes and commands made, as RBAC needs (for k8s-rbac). */
const kubernetesUses = new Map<string, RbacUse[]>();

function pageDeployment(blocks: Block[]): Deployment | undefined {
  const b = blocks.find((x) => x.kind === 'k8s-deployment');
  return b ? parseDeployment(b.body) : undefined;
}

async function makeKubernetesWorld(blocks: Block[]): Promise<KubernetesWorld> {
  const { bin, roots } = await baseDirs('kubernetes');
  const deployment = pageDeployment(blocks);
  return kubernetesWorld({ bin, roots, env: (n) => baseEnv(bin, roots[n]!) }, deployment ? podTemplate(deployment) : undefined);
}

/** Records what a Kubernetes world's API server was asked, for the page's RBAC check. */
function recordUses(page: string, world: World): void {
  if (!('emulator' in world)) return;
  const uses = (world as KubernetesWorld).emulator.requests.map(rbacUse).filter((u): u is RbacUse => u !== undefined);
  kubernetesUses.set(page, [...(kubernetesUses.get(page) ?? []), ...uses]);
}

async function makeWorld(name: string, blocks: Block[] = []): Promise<World> {
  let world: World;
  if (name === 'file') world = await fileWorld();
  else if (name === 'file-registered') {
    world = await fileWorld();
    // A node registered the way bootstrap registers it, so `resolve` has something to list.
    const provider = await createDiscovery({ method: 'file', directory: path.join(world.root(0), 'registry') });
    if (!isRegistryProvider(provider)) throw new Error('file provider must be a registry');
    const registration: Registration = await provider.register({ host: '127.0.0.91', port: 7626 }, { service: 'orders' });
    cleanups.push(async () => {
      await registration.close();
      await provider.close();
    });
  } else if (name === 'ecs-awsvpc') world = await ecsAwsvpcWorld();
  else if (name === 'ecs-throttled') world = await ecsAwsvpcWorld({ throttleListTasks: 2 });
  else if (name === 'imds-hop-limit') world = await imdsHopLimitWorld();
  else if (name === 'ecs-bridge') world = await ecsBridgeWorld((await getTestServers()).zookeeper);
  else if (name === 'kubernetes') world = await makeKubernetesWorld(blocks);
  else if (name === 'kubernetes-no-list') {
    // A Role without `list` on pods: the API server answers 403 as RBAC does.
    const k = await makeKubernetesWorld(blocks);
    k.emulator.deny({ verb: 'list', resource: 'pods' });
    world = k;
  } else throw new Error(`unknown world "${name}"`);
  cleanups.push(() => world.close());
  return world;
}

// Distinct: a variant's block names its base file's path again (mapping a path twice would nest it).
const guidePaths = (blocks: Block[]) => [...new Set(blocks.map((b) => b.attrs.file).filter((p): p is string => p !== undefined))];

/**
 * Writes the page's config and app files into every node's root, patched for the world. Blocks of
 * `variant` (when given) are written last, so they replace the base file of the same path.
 */
async function writeFiles(blocks: Block[], world: World, variant?: string): Promise<void> {
  const chosen = [...blocks.filter((b) => b.attrs.variant === undefined), ...blocks.filter((b) => variant !== undefined && b.attrs.variant === variant)];
  for (let n = 0; n < NODE_COUNT; n++) {
    for (const b of chosen) {
      const file = b.attrs.file;
      if (!file || (b.kind !== 'clusterseed-config' && b.kind !== 'clusterseed-app')) continue;
      const target = inRoot(world.root(n), file);
      await mkdir(path.dirname(target), { recursive: true });
      const body = b.kind === 'clusterseed-config' ? JSON.stringify(world.patchConfig(JSON.parse(b.body) as Record<string, unknown>, n), null, 2) : b.body;
      await writeFile(target, body);
    }
  }
}

function startTasks(taskDefinition: Block, blocks: Block[], world: World): Running[] {
  const td = JSON.parse(taskDefinition.body) as {
    containerDefinitions: { entryPoint?: string[]; command?: string[]; environment?: { name: string; value: string }[] }[];
  };
  const container = td.containerDefinitions[0]!;
  const paths = guidePaths(blocks);
  return Array.from({ length: NODE_COUNT }, (_, n) => {
    const root = world.root(n);
    const env = { ...world.env(n) };
    for (const { name, value } of container.environment ?? []) env[name] = mapPaths(value, root, paths);
    const argv = [...(container.entryPoint ?? []), ...(container.command ?? [])].map((a) => mapPaths(a, root, paths));
    return start(argv, { cwd: root, env });
  });
}

const mapEnv = (env: Record<string, string | undefined>, root: string, paths: string[]) =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === undefined ? v : mapPaths(v, root, paths)]));

/** The page's Deployment as NODE_COUNT pods' processes (the kubelet's view: command + args, env). */
function startPods(deployment: Deployment, blocks: Block[], world: KubernetesWorld): Running[] {
  const paths = guidePaths(blocks);
  return Array.from({ length: NODE_COUNT }, (_, n) => {
    const root = world.root(n);
    const { argv, env } = containerProcess(deployment, world.env(n), (f) => world.fieldRef(n, f));
    return start(
      argv.map((a) => mapPaths(a, root, paths)),
      { cwd: root, env: mapEnv(env, root, paths) },
    );
  });
}

async function stopAll(tasks: Running[]): Promise<number[]> {
  for (const t of tasks) t.kill('SIGTERM');
  return Promise.all(tasks.map(async (t) => (await t.done).code ?? -1));
}

const firstJsonLine = (text: string) => {
  const line = text.split('\n').find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
};

describe.each(GUIDES)('docs/guides/%s', (name) => {
  const blocks = pages.get(name)!;

  it('has runnable snippets, and every JSON block parses', () => {
    expect(blocks.some((b) => b.kind === 'clusterseed-config' || b.kind === 'clusterseed-cli')).toBe(true);
    for (const b of blocks.filter((x) => x.lang === 'json')) {
      expect(() => JSON.parse(b.body), `${name}:${b.line}`).not.toThrow();
    }
    for (const b of blocks.filter((x) => x.lang === 'yaml')) {
      expect(() => loadAll(b.body), `${name}:${b.line}`).not.toThrow();
    }
    for (const b of blocks.filter((x) => x.kind === 'k8s-deployment')) expect(() => parseDeployment(b.body), `${name}:${b.line}`).not.toThrow();
    for (const b of blocks.filter((x) => x.kind === 'k8s-rbac')) expect(() => parseRbac(b.body), `${name}:${b.line}`).not.toThrow();
  });

  it('every clusterseed config validates', () => {
    const configs = blocks.filter((b) => b.kind === 'clusterseed-config');
    for (const b of configs) {
      expect(() => parseConfig(JSON.parse(b.body)), `${name}:${b.line}`).not.toThrow();
    }
  });

  const commands = blocks.map((b, i) => ({ b, next: blocks[i + 1] })).filter(({ b }) => b.kind === 'clusterseed-cli');
  it.each(commands.map(({ b, next }) => [`line ${b.line}: ${b.body.trim().split('\n')[0]!.slice(0, 80)}`, b, next] as const))(
    'runs %s',
    async (_title, b, next) => {
      expect(b.attrs.world, `${name}:${b.line} needs world=`).toBeDefined();
      const world = await makeWorld(b.attrs.world!, blocks);
      await writeFiles(blocks, world);
      const script = mapPaths(b.body, world.root(0), guidePaths(blocks));
      let env = world.env(0);
      const deployment = pageDeployment(blocks);
      if ('fieldRef' in world && deployment) {
        // As `kubectl exec` into the first pod: the container's env (downward API values included).
        const k = world as KubernetesWorld;
        env = mapEnv(containerProcess(deployment, env, (f) => k.fieldRef(0, f)).env, world.root(0), guidePaths(blocks));
      }
      const r = await runScript(script, { cwd: world.root(0), env });
      recordUses(name, world);
      const expectedExit = Number(b.attrs['expect-exit'] ?? 0);
      expect(r.code, `${name}:${b.line} exit code; stderr:\n${r.stderr}`).toBe(expectedExit);
      if (next?.kind === 'clusterseed-output') expect(r.stdout).toBe(next.body);
      if (next?.kind === 'clusterseed-stderr') for (const line of next.body.trim().split('\n')) expect(r.stderr).toContain(line);
      // The throttling section claims the lookup survives throttled calls: they must have happened.
      if (b.attrs.world === 'ecs-throttled') expect(world.apiCalls('ecs:ListTasks')).toBeGreaterThanOrEqual(3);
    },
    90_000,
  );
});

describe('task definitions in the guides run as real tasks', () => {
  it('pekko-on-ecs-bridge: clusterseed run as the entrypoint, bridge host ports, one first seed via ZooKeeper', async () => {
    const blocks = pages.get('pekko-on-ecs-bridge.md')!;
    const td = blocks.find((b) => b.kind === 'ecs-task-definition')!;
    const world = await makeWorld(td.attrs.world!);
    await writeFiles(blocks, world);
    const tasks = startTasks(td, blocks, world);
    try {
      const outputs = await Promise.all(
        tasks.map((t, n) => waitFor(() => firstJsonLine(t.stdout()), `task ${n}'s java to start; stderr: ${t.stderr()}`, 90_000)),
      );
      const seeds0 = outputs.map((o) => (o.java as string[]).find((a) => a.startsWith('-Dpekko.cluster.seed-nodes.0=')));
      expect(new Set(seeds0).size).toBe(1); // every node was given the same first seed
      const firstSeed = seeds0[0]!.split('=')[1]!;
      const nodeAddresses = outputs.map((o) => `${o.HOST_IP}:${o.HOST_PORT}`);
      expect(nodeAddresses).toEqual(Array.from({ length: NODE_COUNT }, (_, n) => `127.0.0.${71 + n}:${bridgeHostPort(n)}`));
      expect(nodeAddresses.map((a) => `pekko://Orders@${a}`)).toContain(firstSeed);
      for (const [n, o] of outputs.entries()) {
        expect(o.java).toContain(`-Dpekko.remote.artery.canonical.hostname=127.0.0.${71 + n}`);
        expect(o.java).toContain(`-Dpekko.remote.artery.canonical.port=${bridgeHostPort(n)}`);
      }
      expect(tasks.filter((t) => t.stderr().includes('formed a new cluster'))).toHaveLength(1);
    } finally {
      expect(await stopAll(tasks)).toEqual(Array(NODE_COUNT).fill(0)); // SIGTERM forwarded, java exits 0
    }
  }, 120_000);

  it('node-on-fargate: three server.js tasks agree on the lowest task, using only the calls the IAM policy allows', async () => {
    const blocks = pages.get('node-on-fargate.md')!;
    const td = blocks.find((b) => b.kind === 'ecs-task-definition')!;
    const world = await makeWorld(td.attrs.world!);
    await writeFiles(blocks, world);
    const tasks = startTasks(td, blocks, world);
    try {
      const outputs = await Promise.all(tasks.map((t, n) => waitFor(() => firstJsonLine(t.stdout()), `task ${n}'s decision; stderr: ${t.stderr()}`, 90_000)));
      for (const o of outputs) expect(o.firstSeed).toEqual({ host: '127.0.0.81', port: 7626 });
      expect(outputs.filter((o) => o.formedNewCluster === true)).toHaveLength(1);
      const policy = JSON.parse(blocks.find((b) => b.kind === 'iam-policy')!.body) as { Statement: { Effect: string; Action: string | string[] }[] };
      const allowed = policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
      const called = world.apiActions();
      expect(called.length).toBeGreaterThan(0);
      for (const action of called) expect(allowed, `IAM policy must allow ${action}`).toContain(action);
    } finally {
      expect(await stopAll(tasks)).toEqual(Array(NODE_COUNT).fill(0));
    }
  }, 120_000);
});

/** The process's first JSON line; fails at once (with its stderr) when it exits before printing one. */
async function firstLineOrExit(t: Running, what: string): Promise<Record<string, unknown>> {
  let exited: number | null | undefined;
  void t.done.then((f) => (exited = f.code));
  return waitFor(
    () => {
      const line = firstJsonLine(t.stdout());
      if (line) return line;
      if (exited !== undefined) throw new Error(`${what} exited ${exited} before its java started; stderr:\n${t.stderr()}`);
      return undefined;
    },
    `${what}'s java to start; stderr: ${t.stderr()}`,
    90_000,
  );
}

describe('Kubernetes manifests in the guides run as pods', () => {
  const page = 'pekko-on-kubernetes.md';
  const blocks = pages.get(page)!;
  const deploymentBlock = blocks.find((b) => b.kind === 'k8s-deployment')!;
  const deployment = parseDeployment(deploymentBlock.body);
  // The base configs, then each variant the page offers (a variant replaces the base file).
  const variants = [undefined, ...new Set(blocks.filter((b) => b.kind === 'clusterseed-config' && b.attrs.variant).map((b) => b.attrs.variant!))];
  const strategyOf = (variant: string | undefined) => {
    const b = blocks
      .filter((x) => x.kind === 'clusterseed-config' && x.attrs.variant === variant)
      .find((x) => deployment.spec.template.spec.containers[0]!.command!.includes(x.attrs.file!));
    return parseConfig(JSON.parse(b!.body)).bootstrap.strategy;
  };

  it('the Deployment fits the world: its namespace, NODE_COUNT replicas, a selector matching its pods, and the page shows both strategies', () => {
    expect(deployment.metadata.namespace).toBe(KUBERNETES_NAMESPACE);
    expect(deployment.spec.replicas).toBe(NODE_COUNT);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels ?? {});
    expect(variants.map(strategyOf).sort()).toEqual(['lock', 'lowest-address']);
  });

  it.each(variants.map((v) => [v ?? 'base', v] as const))(
    'config %s: clusterseed run in every pod, one cluster, the first seed on every node',
    async (_title, variant) => {
      const world = await makeKubernetesWorld(blocks);
      cleanups.push(() => world.close());
      await writeFiles(blocks, world, variant);
      const strategy = strategyOf(variant);
      const pods = startPods(deployment, blocks, world);
      try {
        const outputs = await Promise.all(pods.map((t, n) => firstLineOrExit(t, `pod ${n}`)));
        const seeds0 = outputs.map((o) => (o.java as string[]).find((a) => a.startsWith('-Dpekko.cluster.seed-nodes.0=')));
        expect(new Set(seeds0).size).toBe(1); // every pod was given the same first seed: one cluster
        const firstSeed = seeds0[0]!.split('=')[1]!;
        const podSeeds = Array.from({ length: NODE_COUNT }, (_, n) => `pekko://Orders@${podIp(n)}:25520`);
        expect(podSeeds).toContain(firstSeed);
        if (strategy === 'lowest-address') expect(firstSeed).toBe(podSeeds[0]); // the lowest pod IP
        for (const [n, o] of outputs.entries()) expect(o.java).toContain(`-Dpekko.remote.artery.canonical.hostname=${podIp(n)}`);
        expect(pods.filter((t) => t.stderr().includes('formed a new cluster'))).toHaveLength(1);

        if (strategy === 'lock') {
          // The guide names them; nothing else is created in the namespace.
          const leases = world.emulator.leases(KUBERNETES_NAMESPACE).map((l) => l.metadata.name as string);
          expect(leases).toContain('clusterseed-orders-lock');
          for (const l of leases) expect(['clusterseed-orders-lock', 'clusterseed-orders-members']).toContain(l);
        } else {
          // Token rotation (the guide's claim: nothing to configure). Revoke the old token while the
          // cluster runs: the nodes' next calls must use the new one (their conflict checks re-list pods).
          const before = world.emulator.requests.length;
          world.emulator.rotateToken({ revokeOld: true });
          await waitFor(
            () => world.emulator.requests.slice(before).filter((r) => r.status === 200 && r.path.endsWith('/pods')).length >= NODE_COUNT,
            `${NODE_COUNT} successful pod lists after the token rotation; ` +
              `requests: ${JSON.stringify(world.emulator.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`))}`,
            30_000,
          );
          for (const t of pods) expect(t.stderr()).not.toMatch(/CLUSTERSEED_E_AUTH|Unauthorized/);
        }
      } finally {
        const codes = await stopAll(pods);
        recordUses(page, world);
        expect(codes).toEqual(Array(NODE_COUNT).fill(0)); // SIGTERM forwarded, java exits 0
      }
      if (strategy === 'lock') {
        // Every pod released what it held on its way out (no lease waits out its duration).
        for (const l of world.emulator.leases(KUBERNETES_NAMESPACE)) expect(l.spec?.holderIdentity ?? '', l.metadata.name).toBe('');
      }
    },
    150_000,
  );

  it('the Role allows every request the pods and commands made, and nothing they did not make', () => {
    const rbac = parseRbac(blocks.find((b) => b.kind === 'k8s-rbac')!.body);
    const { role, binding } = rbac;
    expect(role.metadata.namespace).toBe(KUBERNETES_NAMESPACE);
    expect(binding.metadata.namespace).toBe(KUBERNETES_NAMESPACE);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toContainEqual({
      kind: 'ServiceAccount',
      name: deployment.spec.template.spec.serviceAccountName,
      namespace: KUBERNETES_NAMESPACE,
    });
    for (const o of rbac.others) expect(['ServiceAccount'], `${o.kind} ${o.metadata.name}`).toContain(o.kind);

    const uses = kubernetesUses.get(page) ?? [];
    expect(uses.length, 'the Deployment runs above must have called the API').toBeGreaterThan(0);
    const needed = neededGrants(uses);
    expect(needed.namespaces, 'a Role grants only in its own namespace').toEqual([KUBERNETES_NAMESPACE]);
    for (const key of needed.keys) expect(rbac.grants, `the Role must allow ${key}`).toContain(key);
    for (const key of rbac.grants) expect(needed.keys, `the Role grants ${key}, which nothing called`).toContain(key);
    expect(needed.keys).toEqual(rbac.grants);
  });
});

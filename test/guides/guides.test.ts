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
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider, type Registration } from '../../src/types.js';
import { getTestServers } from '../servers/index.js';
import { inRoot, mapPaths, readGuide, runScript, start, waitFor, type Block, type Running } from './snippets.js';
import { bridgeHostPort, ecsAwsvpcWorld, ecsBridgeWorld, fileWorld, imdsHopLimitWorld, NODE_COUNT, type World } from './worlds.js';

const GUIDES = ['pekko-on-ecs-bridge.md', 'node-on-fargate.md', 'migrating-from-pekko.md', 'troubleshooting.md'];
const pages = new Map<string, Block[]>();
for (const name of GUIDES) pages.set(name, await readGuide(name));

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function makeWorld(name: string): Promise<World> {
  let world: World;
  if (name === 'file') world = await fileWorld();
  else if (name === 'file-registered') {
    world = await fileWorld();
    // A node registered the way bootstrap registers it, so `resolve` has something to list.
    const provider = await createDiscovery({ method: 'file', directory: path.join(world.root(0), 'registry') });
    if (!isRegistryProvider(provider)) throw new Error('file provider must be a registry');
    const registration: Registration = await provider.register({ host: '127.0.0.91', port: 7626 }, { service: 'orders' });
    cleanups.push(async () => { await registration.close(); await provider.close(); });
  } else if (name === 'ecs-awsvpc') world = await ecsAwsvpcWorld();
  else if (name === 'ecs-throttled') world = await ecsAwsvpcWorld({ throttleListTasks: 2 });
  else if (name === 'imds-hop-limit') world = await imdsHopLimitWorld();
  else if (name === 'ecs-bridge') world = await ecsBridgeWorld((await getTestServers()).zookeeper);
  else throw new Error(`unknown world "${name}"`);
  cleanups.push(() => world.close());
  return world;
}

const guidePaths = (blocks: Block[]) => blocks.map((b) => b.attrs['file']).filter((p): p is string => p !== undefined);

/** Writes the page's config and app files into every node's root, patched for the world. */
async function writeFiles(blocks: Block[], world: World): Promise<void> {
  for (let n = 0; n < NODE_COUNT; n++) {
    for (const b of blocks) {
      const file = b.attrs['file'];
      if (!file || (b.kind !== 'clusterseed-config' && b.kind !== 'clusterseed-app')) continue;
      const target = inRoot(world.root(n), file);
      await mkdir(path.dirname(target), { recursive: true });
      const body = b.kind === 'clusterseed-config' ? JSON.stringify(world.patchConfig(JSON.parse(b.body) as Record<string, unknown>, n), null, 2) : b.body;
      await writeFile(target, body);
    }
  }
}

function startTasks(taskDefinition: Block, blocks: Block[], world: World): Running[] {
  const td = JSON.parse(taskDefinition.body) as { containerDefinitions: { entryPoint?: string[]; command?: string[]; environment?: { name: string; value: string }[] }[] };
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
  });

  it('every clusterseed config validates', () => {
    const configs = blocks.filter((b) => b.kind === 'clusterseed-config');
    for (const b of configs) {
      expect(() => parseConfig(JSON.parse(b.body)), `${name}:${b.line}`).not.toThrow();
    }
  });

  const commands = blocks.map((b, i) => ({ b, next: blocks[i + 1] })).filter(({ b }) => b.kind === 'clusterseed-cli');
  it.each(commands.map(({ b, next }) => [`line ${b.line}: ${b.body.trim().split('\n')[0]!.slice(0, 80)}`, b, next] as const))('runs %s', async (_title, b, next) => {
    expect(b.attrs['world'], `${name}:${b.line} needs world=`).toBeDefined();
    const world = await makeWorld(b.attrs['world']!);
    await writeFiles(blocks, world);
    const script = mapPaths(b.body, world.root(0), guidePaths(blocks));
    const r = await runScript(script, { cwd: world.root(0), env: world.env(0) });
    const expectedExit = Number(b.attrs['expect-exit'] ?? 0);
    expect(r.code, `${name}:${b.line} exit code; stderr:\n${r.stderr}`).toBe(expectedExit);
    if (next?.kind === 'clusterseed-output') expect(r.stdout).toBe(next.body);
    if (next?.kind === 'clusterseed-stderr') for (const line of next.body.trim().split('\n')) expect(r.stderr).toContain(line);
    // The throttling section claims the lookup survives throttled calls: they must have happened.
    if (b.attrs['world'] === 'ecs-throttled') expect(world.apiCalls('ecs:ListTasks')).toBeGreaterThanOrEqual(3);
  }, 90_000);
});

describe('task definitions in the guides run as real tasks', () => {
  it('pekko-on-ecs-bridge: clusterseed run as the entrypoint, bridge host ports, one first seed via ZooKeeper', async () => {
    const blocks = pages.get('pekko-on-ecs-bridge.md')!;
    const td = blocks.find((b) => b.kind === 'ecs-task-definition')!;
    const world = await makeWorld(td.attrs['world']!);
    await writeFiles(blocks, world);
    const tasks = startTasks(td, blocks, world);
    try {
      const outputs = await Promise.all(tasks.map((t, n) => waitFor(() => firstJsonLine(t.stdout()), `task ${n}'s java to start; stderr: ${t.stderr()}`, 90_000)));
      const seeds0 = outputs.map((o) => (o['java'] as string[]).find((a) => a.startsWith('-Dpekko.cluster.seed-nodes.0=')));
      expect(new Set(seeds0).size).toBe(1); // every node was given the same first seed
      const firstSeed = seeds0[0]!.split('=')[1]!;
      const nodeAddresses = outputs.map((o) => `${o['HOST_IP']}:${o['HOST_PORT']}`);
      expect(nodeAddresses).toEqual(Array.from({ length: NODE_COUNT }, (_, n) => `127.0.0.${71 + n}:${bridgeHostPort(n)}`));
      expect(nodeAddresses.map((a) => `pekko://Orders@${a}`)).toContain(firstSeed);
      for (const [n, o] of outputs.entries()) {
        expect(o['java']).toContain(`-Dpekko.remote.artery.canonical.hostname=127.0.0.${71 + n}`);
        expect(o['java']).toContain(`-Dpekko.remote.artery.canonical.port=${bridgeHostPort(n)}`);
      }
      expect(tasks.filter((t) => t.stderr().includes('formed a new cluster'))).toHaveLength(1);
    } finally {
      expect(await stopAll(tasks)).toEqual(Array(NODE_COUNT).fill(0)); // SIGTERM forwarded, java exits 0
    }
  }, 120_000);

  it('node-on-fargate: three server.js tasks agree on the lowest task, using only the calls the IAM policy allows', async () => {
    const blocks = pages.get('node-on-fargate.md')!;
    const td = blocks.find((b) => b.kind === 'ecs-task-definition')!;
    const world = await makeWorld(td.attrs['world']!);
    await writeFiles(blocks, world);
    const tasks = startTasks(td, blocks, world);
    try {
      const outputs = await Promise.all(tasks.map((t, n) => waitFor(() => firstJsonLine(t.stdout()), `task ${n}'s decision; stderr: ${t.stderr()}`, 90_000)));
      for (const o of outputs) expect(o['firstSeed']).toEqual({ host: '127.0.0.81', port: 7626 });
      expect(outputs.filter((o) => o['formedNewCluster'] === true)).toHaveLength(1);
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

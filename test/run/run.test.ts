import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { alive, cli, registryEntries, singleNodeConfig, tempDir, waitFor } from './helpers.js';

// The children are small node scripts; they print only what the test reads on stdout.
const node = process.execPath;
const PRINT_ENV =
  `const e = process.env; console.log(JSON.stringify({ seeds: e.CLUSTERSEED_SEEDS, self: e.CLUSTERSEED_SELF, formed: e.CLUSTERSEED_FORMED_NEW_CLUSTER, ` +
  `hostIp: e.HOST_IP, hostPort: e.HOST_PORT, hocon: e.CLUSTERSEED_HOCON, keep: e.KEEP_ME }))`;
// Waits for a signal, reports it, exits 40 + the signal's number.
const WAIT_SIGNAL =
  `for (const s of ['SIGTERM','SIGINT','SIGHUP']) process.on(s, () => { console.log('child got ' + s); ` +
  `process.exit(40 + require('os').constants.signals[s]); });` +
  ` console.log('ready ' + process.pid); setInterval(() => {}, 1000);`;

describe('clusterseed run', () => {
  it("gives the child the decision in its environment; stdout is the child's alone", async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.61');
    const p = cli(['run', '--config', config, '--', node, '-e', PRINT_ENV], { KEEP_ME: 'inherited' });
    expect((await p.exit).code).toBe(0);
    const lines = p.stdout().trim().split('\n');
    expect(lines).toHaveLength(1);
    const env = JSON.parse(lines[0]!);
    expect(env).toMatchObject({ formed: 'true', keep: 'inherited' });
    expect(env.self).toMatch(/^127\.0\.0\.61:\d+$/);
    expect(env.seeds).toBe(env.self);
    expect(env.hostIp).toBeUndefined(); // self was configured, not resolved
    expect(env.hocon).toBeUndefined();
    expect(p.stderr()).toContain(`formed a new cluster as ${env.self}`);
  });

  it('--format hocon adds CLUSTERSEED_HOCON; child args after "--" are not ours (even --verbose)', async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.62');
    const p = cli([
      'run',
      '--config',
      config,
      '--format',
      'hocon',
      '--system',
      'Orders',
      '--remote-port',
      '25520',
      '--',
      node,
      '-e',
      `${PRINT_ENV}; console.log(process.argv.slice(1).join(' '))`,
      '--',
      '--verbose',
      '--format',
    ]);
    expect((await p.exit).code).toBe(0);
    const [first, second] = p.stdout().trim().split('\n');
    expect(JSON.parse(first!).hocon).toBe('pekko.cluster.seed-nodes = ["pekko://Orders@127.0.0.62:25520"]');
    expect(second).toBe('--verbose --format');
  });

  it("exits with the child's exit code, and 128+N when the child is killed by a signal", async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.63');
    expect((await cli(['run', '--config', config, '--', node, '-e', 'process.exit(3)']).exit).code).toBe(3);
    expect((await cli(['run', '--config', config, '--', node, '-e', "process.kill(process.pid, 'SIGKILL')"]).exit).code).toBe(
      128 + os.constants.signals.SIGKILL,
    );
    const missing = cli(['run', '--config', config, '--', '/nonexistent/command']);
    expect((await missing.exit).code).toBe(127);
    expect(missing.stderr()).toContain('cannot start "/nonexistent/command"');
    expect(await registryEntries(dir)).toEqual([]); // deregistered in every case
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('forwards %s to the child, then deregisters and exits with its code', async (signal) => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.64');
    const p = cli(['run', '--config', config, '--', node, '-e', WAIT_SIGNAL]);
    await waitFor(() => p.stdout().includes('ready'), 'the child to start');
    expect(await registryEntries(dir)).toHaveLength(1); // registered while the child runs
    p.child.kill(signal);
    const { code } = await p.exit;
    expect(p.stdout()).toContain(`child got ${signal}`);
    expect(code).toBe(40 + os.constants.signals[signal]);
    expect(await registryEntries(dir)).toEqual([]);
  });

  it('keeps the management endpoint serving while the child runs', async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.65');
    const p = cli(['run', '--config', config, '--', node, '-e', `${PRINT_ENV}; setInterval(() => {}, 1000)`]);
    const line = await waitFor(
      () =>
        p
          .stdout()
          .split('\n')
          .find((l) => l.startsWith('{')),
      'the child output',
    );
    const self = JSON.parse(line).self as string;
    const res = await fetch(`http://${self}/bootstrap/seed-nodes`);
    expect(res.status).toBe(200);
    expect((await res.json()).seedNodes).toEqual([{ host: '127.0.0.65', port: Number(self.split(':')[1]) }]);
    p.child.kill('SIGTERM');
    expect((await p.exit).code).toBe(128 + os.constants.signals.SIGTERM); // node's default SIGTERM action
  });

  it('a wrapper killed with SIGKILL does not orphan the child (watchdog)', async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.66');
    const p = cli(['run', '--config', config, '--', node, '-e', WAIT_SIGNAL]);
    const ready = await waitFor(() => /ready (\d+)/.exec(p.stdout()), 'the child to start');
    const childPid = Number(ready[1]);
    expect(alive(childPid)).toBe(true);
    p.child.kill('SIGKILL');
    await p.exited;
    await waitFor(() => !alive(childPid), 'the orphaned child to be terminated by the watchdog');
  });

  it('bootstrap --format hocon / java-opts print the seed nodes (akka protocol, contact point ports)', async () => {
    const dir = await tempDir();
    const config = await singleNodeConfig(dir, '127.0.0.67');
    const hocon = cli(['bootstrap', '--config', config, '--format', 'hocon', '--system', 'Shop', '--protocol', 'akka', '--exit']);
    expect((await hocon.exit).code).toBe(0);
    expect(hocon.stdout()).toMatch(/^akka\.cluster\.seed-nodes = \["akka:\/\/Shop@127\.0\.0\.67:\d+"\]\n$/);
    const opts = cli(['bootstrap', '--config', config, '--format', 'java-opts', '--system', 'Shop', '--remote-port', '2552', '--exit']);
    expect((await opts.exit).code).toBe(0);
    expect(opts.stdout()).toBe('-Dpekko.cluster.seed-nodes.0=pekko://Shop@127.0.0.67:2552\n');
    expect(await registryEntries(dir)).toEqual([]);
  });

  it('SIGTERM before a decision: graceful exit 0, the command never starts, nothing stays registered', async () => {
    const dir = await tempDir();
    // Two contact points required, only one node: it never decides.
    const config = await singleNodeConfig(dir, '127.0.0.69', { bootstrap: { requiredContactPoints: 2, discoveryIntervalMs: 100 } });
    const p = cli(['run', '--config', config, '--', node, '-e', 'console.log("child ran")']);
    await waitFor(async () => (await registryEntries(dir)).length === 1, 'the node to register');
    p.child.kill('SIGTERM');
    expect((await p.exit).code).toBe(0);
    expect(p.stdout()).toBe('');
    expect(p.stderr()).toContain('the command was not started');
    expect(await registryEntries(dir)).toEqual([]);
  });

  it('usage errors exit 2 before bootstrapping', async () => {
    const noCommand = cli(['run', '--service', 'x']);
    expect((await noCommand.exit).code).toBe(2);
    expect(noCommand.stderr()).toContain('missing the command to run after "--"');
    const noSystem = cli(['run', '--service', 'x', '--format', 'hocon', '--', 'true']);
    expect((await noSystem.exit).code).toBe(2);
    expect(noSystem.stderr()).toContain('--format hocon needs --system NAME');
  });
});

// aws-ecs against the ECS JSON 1.1 emulator (test/emulators/aws) with a per-request latency, like a
// real regional endpoint: wall time and API calls per resolve for 1,000 and 5,000 running awsvpc tasks
// (plus a bridge service on 100 container instances, first and cached resolve), next to the naive
// approach in the same run: list every page, then DescribeTasks batches one after another (as Pekko's
// SDK v1 module does). Run after `npm run build`: node bench/aws-ecs.bench.mjs
import { register } from 'tsx/esm/api';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

register();
const { AwsEmulator } = await import('../test/emulators/aws/server.ts');
const { EcsHandler, EcsState } = await import('../test/emulators/aws/ecs.ts');
const { Ec2Handler } = await import('../test/emulators/aws/ec2.ts');
const { createDiscovery } = await import('../dist/src/registry.js');
const { ECSClient, ListTasksCommand, DescribeTasksCommand } = await import('@aws-sdk/client-ecs');

const LATENCIES = String(process.env.BENCH_LATENCY_MS ?? '5,25')
  .split(',')
  .map(Number);
const LATENCY_MS = LATENCIES[0];
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The emulator runs in its own process so its CPU does not compete with the client being measured.
if (process.argv[2] === '--serve') {
  const state = new EcsState();
  for (const [cluster, count] of [
    ['c1000', 1000],
    ['c5000', 5000],
  ]) {
    for (let n = 0; n < count; n++) {
      state.addAwsvpcTask({ cluster, service: 'orders', ip: `10.${Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}` });
    }
  }
  const ec2 = new Ec2Handler();
  for (let h = 0; h < 100; h++) {
    const id = `i-0${h.toString(16).padStart(16, '0')}`;
    ec2.state.instances.push({
      instanceId: id,
      state: 'running',
      instanceType: 'm5.large',
      availabilityZone: 'us-east-1a',
      privateIpAddress: `172.31.${h}.10`,
      tags: {},
      reservationId: `r-${h}`,
    });
    const ci = state.addContainerInstance('bridge', id);
    for (let t = 0; t < 10; t++) {
      state.addBridgeTask({
        cluster: 'bridge',
        service: 'orders',
        containerInstanceArn: ci.containerInstanceArn,
        containers: [
          { name: 'app', bindings: [{ containerPort: 7626, hostPort: 32768 + t }] },
          { name: 'envoy', bindings: [{ containerPort: 9901, hostPort: 40000 + t }] },
        ],
      });
    }
  }
  // Bench-only control endpoints: call counts and reset, over the same loopback server.
  const control = {
    name: 'bench-control',
    match: (req) => (req.path.startsWith('/__bench/') ? `bench:${req.path}` : undefined),
    handle(req) {
      if (req.path === '/__bench/reset') emulator.resetCalls();
      if (req.path === '/__bench/latency') emulator.latencyMs = Number(req.query.get('ms'));
      const counts = Object.fromEntries(Object.entries(emulator.callCounts()).filter(([k]) => !k.startsWith('bench:')));
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(counts) };
    },
  };
  const emulator = await AwsEmulator.start([new EcsHandler(state), ec2, control]);
  emulator.latencyMs = LATENCY_MS;
  process.stdout.write(`${emulator.url}\n`);
  process.on('disconnect', () => process.exit(0));
  await new Promise(() => {});
}

const server = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.once('data', (d) => resolve(String(d).trim()));
  server.once('exit', (code) => reject(new Error(`emulator process exited ${code}`)));
});
const emulator = {
  url,
  async resetCalls() {
    await fetch(`${url}/__bench/reset`);
  },
  async callCounts() {
    return (await fetch(`${url}/__bench/calls`)).json();
  },
};
const env = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCH',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL_ECS: emulator.url,
  AWS_ENDPOINT_URL_EC2: emulator.url,
};

/** The naive way: all ListTasks pages, then one DescribeTasks batch after another. */
function naiveResolver(cluster) {
  const client = new ECSClient({
    region: 'us-east-1',
    endpoint: emulator.url,
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    maxAttempts: 1,
  });
  return {
    async resolve() {
      const arns = [];
      let nextToken;
      do {
        const page = await client.send(new ListTasksCommand({ cluster, serviceName: 'orders', desiredStatus: 'RUNNING', ...(nextToken ? { nextToken } : {}) }));
        arns.push(...page.taskArns);
        nextToken = page.nextToken;
      } while (nextToken);
      const ips = [];
      for (let i = 0; i < arns.length; i += 100) {
        const out = await client.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + 100) }));
        for (const t of out.tasks) if (t.lastStatus === 'RUNNING') ips.push(t.attachments[0].details.find((d) => d.name === 'privateIPv4Address').value);
      }
      return ips.length;
    },
    close: () => client.destroy(),
  };
}

/** Runs `fn` once to warm up, then RUNS times; returns {median, min, max, count, calls}. */
async function sample(fn) {
  const times = [];
  let count = 0;
  let calls = {};
  for (let r = 0; r < RUNS; r++) {
    await emulator.resetCalls();
    const t0 = performance.now();
    count = await fn();
    times.push(performance.now() - t0);
    calls = await emulator.callCounts();
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), count, calls };
}

function report(label, m) {
  const total = Object.values(m.calls).reduce((a, b) => a + b, 0);
  const detail = Object.entries(m.calls)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `  ${label.padEnd(42)} ${String(m.count).padStart(5)} points  median ${m.median.toFixed(0).padStart(5)} ms  ` +
      `(min ${m.min.toFixed(0)}, max ${m.max.toFixed(0)})  ${total} API calls (${detail})`,
  );
}

const resolveOrders = (provider) => async () => (await provider.resolve({ service: 'orders' }, { timeoutMs: 120_000 })).length;

for (const latency of LATENCIES) {
  await fetch(`${url}/__bench/latency?ms=${latency}`);
  console.log(`\nECS emulator in its own process, ${latency} ms latency per request; median of ${RUNS} resolves after a warm-up`);
  for (const [cluster, count] of [
    ['c1000', 1000],
    ['c5000', 5000],
  ]) {
    const provider = await createDiscovery({ method: 'aws-ecs', cluster }, { env });
    const naive = naiveResolver(cluster);
    await resolveOrders(provider)();
    await naive.resolve();
    // Alternate the two so that load from elsewhere on the machine hits both alike.
    const ours = { runs: [] };
    const base = { runs: [] };
    for (let r = 0; r < RUNS; r++) {
      ours.runs.push(await sampleOnce(resolveOrders(provider)));
      base.runs.push(await sampleOnce(() => naive.resolve()));
    }
    const o = summarize(ours.runs);
    const b = summarize(base.runs);
    report(`clusterseed aws-ecs, ${count} tasks`, o);
    report(`naive sequential batches, ${count} tasks`, b);
    console.log(`  ${''.padEnd(42)} speed-up ×${(b.median / o.median).toFixed(2)}`);
    await provider.close();
    naive.close();
  }
  const first = [];
  for (let r = 0; r < RUNS; r++) {
    const provider = await createDiscovery({ method: 'aws-ecs', cluster: 'bridge', containerPort: 7626 }, { env });
    first.push(await sampleOnce(resolveOrders(provider)));
    await provider.close();
  }
  report('bridge, 1000 tasks on 100 hosts, first', summarize(first));
  const cached = await createDiscovery({ method: 'aws-ecs', cluster: 'bridge', containerPort: 7626 }, { env });
  await resolveOrders(cached)();
  report('bridge, 1000 tasks on 100 hosts, cached', await sample(resolveOrders(cached)));
  await cached.close();
}

async function sampleOnce(fn) {
  await emulator.resetCalls();
  const t0 = performance.now();
  const count = await fn();
  const ms = performance.now() - t0;
  return { ms, count, calls: await emulator.callCounts() };
}

function summarize(runs) {
  const times = runs.map((r) => r.ms);
  return { median: median(times), min: Math.min(...times), max: Math.max(...times), count: runs.at(-1).count, calls: runs.at(-1).calls };
}

server.disconnect();
server.kill();

// aws-ec2-tags against the EC2 Query API emulator (test/emulators/aws) with a per-request latency,
// like a real regional endpoint: wall time and API calls per resolve for 1,000 and 5,000 matching
// instances (plus non-matching noise), next to a paginator with a small page (MaxResults 100) to show
// what the page size costs. Run after `npm run build`: node bench/aws-ec2.bench.mjs
import { register } from 'tsx/esm/api';
import { performance } from 'node:perf_hooks';

register();
const { AwsEmulator } = await import('../test/emulators/aws/server.ts');
const { Ec2Handler, makeFleet } = await import('../test/emulators/aws/ec2.ts');
const { createDiscovery } = await import('../dist/src/registry.js');
const { EC2Client, paginateDescribeInstances } = await import('@aws-sdk/client-ec2');

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 5);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label, emulator, fn) {
  await fn(); // warm-up (module load, connection)
  const times = [];
  let calls = 0;
  let count = 0;
  for (let r = 0; r < RUNS; r++) {
    emulator.resetCalls();
    const t0 = performance.now();
    count = await fn();
    times.push(performance.now() - t0);
    calls = emulator.calls('ec2:DescribeInstances');
  }
  console.log(
    `${label.padEnd(44)} ${String(count).padStart(6)} points  ${median(times).toFixed(1).padStart(8)} ms median  ` +
      `${String(calls).padStart(3)} API calls/resolve`,
  );
}

console.log(`per-request latency ${LATENCY_MS} ms, ${RUNS} runs each (median)`);
for (const n of [1000, 5000]) {
  // n matching running instances, plus stopped ones and another service's instances as noise.
  const matching = makeFleet({ count: n, services: ['orders'] });
  const noise = makeFleet({ count: Math.round(n / 2), services: ['billing'], notRunningEvery: 2, firstOctets: '10.9' }).map((i) => ({
    ...i,
    instanceId: `${i.instanceId}-n`,
  }));
  const ec2 = new Ec2Handler({ instances: [...matching, ...noise] });
  const emulator = await AwsEmulator.start([ec2]);
  emulator.latencyMs = LATENCY_MS;
  const env = { AWS_ENDPOINT_URL_EC2: emulator.url, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'bench' };

  const provider = await createDiscovery({ method: 'aws-ec2-tags', ports: [7626] }, { env });
  await measure(
    `clusterseed aws-ec2-tags, ${n} instances`,
    emulator,
    async () => (await provider.resolve({ service: 'orders' }, { timeoutMs: 60_000 })).length,
  );
  await provider.close();

  const client = new EC2Client({ region: 'eu-west-1', endpoint: emulator.url, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'bench' } });
  await measure(`SDK paginator MaxResults=100, ${n} instances`, emulator, async () => {
    let count = 0;
    const pages = paginateDescribeInstances(
      { client, pageSize: 100 },
      {
        Filters: [
          { Name: 'instance-state-name', Values: ['running'] },
          { Name: 'tag:service', Values: ['orders'] },
        ],
      },
    );
    for await (const page of pages) for (const r of page.Reservations ?? []) count += r.Instances?.length ?? 0;
    return count;
  });
  client.destroy();
  await emulator.close();
}

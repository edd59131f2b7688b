// Time to `import('clusterseed')` in a fresh process vs `import('@aws-sdk/client-ec2')`, as a ratio
// over repeated runs (median of N). Needs `npm run build` (npm run bench does it).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.env.BENCH_RUNS ?? 15);

function timeImport(specifier) {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t));`;
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: repo, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`importing ${specifier} failed: ${r.stderr}`);
    samples.push(Number(r.stdout));
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], min: samples[0], max: samples[samples.length - 1] };
}

const core = timeImport(path.join(repo, 'dist/src/index.js'));
const ec2 = timeImport('@aws-sdk/client-ec2');
const fmt = (s) => `median ${s.median.toFixed(1)} ms (min ${s.min.toFixed(1)}, max ${s.max.toFixed(1)})`;
console.log(`import('clusterseed')          ${fmt(core)}`);
console.log(`import('@aws-sdk/client-ec2')  ${fmt(ec2)}`);
console.log(`ratio clusterseed / client-ec2: ${(core.median / ec2.median).toFixed(3)} (${runs} fresh processes each)`);

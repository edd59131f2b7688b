import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

const repo = path.resolve(import.meta.dirname, '../..');
const cliPath = path.join(repo, 'dist/src/cli/main.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterseed-cli-'));

/** Runs the CLI in-process and captures its output. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

const STATIC = 'method=static contactPoints=10.0.0.10:7626,10.0.0.2:7626,[fd00::1]:7626,10.0.0.200:7626';

describe('clusterseed resolve', () => {
  it('prints the contract JSON in canonical order', async () => {
    const r = await cli(['resolve', '--service', 'x', '--discovery', STATIC, '--format', 'json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      service: 'x',
      method: 'static',
      contactPoints: [
        { host: '10.0.0.2', port: 7626 },
        { host: '10.0.0.10', port: 7626 },
        { host: '10.0.0.200', port: 7626 },
        { host: 'fd00::1', port: 7626 },
      ],
    });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('lines and table formats', async () => {
    expect((await cli(['resolve', '--service', 'x', '--discovery', STATIC, '--format', 'lines'])).stdout).toBe(
      '10.0.0.2:7626\n10.0.0.10:7626\n10.0.0.200:7626\n[fd00::1]:7626\n',
    );
    const table = (await cli(['resolve', '--service', 'x', '--discovery', 'method=static contactPoints=b,a:1', '--format', 'table'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^HOST\s+PORT\s+META$/);
    expect(table).toContain('a     1');
    expect(table).toContain('b     -');
  });

  it('takes service and discovery from the environment', async () => {
    const r = await cli(['resolve', '--format', 'lines'], { CLUSTERSEED_SERVICE: 's', CLUSTERSEED_DISCOVERY: 'method=static contactPoints=h:1' });
    expect(r).toMatchObject({ code: 0, stdout: 'h:1\n' });
  });

  it.each([
    [['resolve', '--service', 'x', '--discovery', 'method=static contactPoints=a:0'], 'discovery.contactPoints[0]'],
    [['resolve', '--discovery', STATIC], 'service: required'],
    [['resolve', '--service', 'x', '--format', 'yaml'], '--format: expected one of json, table, lines, got "yaml"'],
    [['resolve', '--service', 'x', '--bogus'], "Unknown option '--bogus'"],
    [['resolve', '--service', 'x', '--timeout', 'soon'], '--timeout: expected a positive integer of milliseconds, got "soon"'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['config'], 'config: missing subcommand'],
  ])('%j exits 2 with one line naming the problem', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith('clusterseed: ')).toBe(true);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a discovery failure exits 1 with one line; --verbose adds the stack', async () => {
    const discovery = `method=file directory=${path.join(dir, 'not-a-dir-file')}`;
    writeFileSync(path.join(dir, 'not-a-dir-file'), 'x');
    const r = await cli(['resolve', '--service', 'x', '--discovery', discovery]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^clusterseed: file: cannot read .* — check that the directory exists/);
    const v = await cli(['resolve', '--service', 'x', '--discovery', discovery, '--verbose']);
    expect(v.stderr).toContain('at ');
  });
});

describe('clusterseed config', () => {
  it('schema prints a JSON Schema', async () => {
    const r = await cli(['config', 'schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ type: 'object', required: ['service'] });
  });

  it('check accepts a good file and rejects a bad one with exit 2 naming the key', async () => {
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ service: 'products-api', discovery: { method: 'aws-ec2-tags', tagKey: 'service', ports: [7626] } }));
    expect(await cli(['config', 'check', good])).toMatchObject({
      code: 0,
      stdout: `${good}: ok (service "products-api", method aws-ec2-tags, strategy lowest-address)\n`,
    });
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ service: 'products-api', discovery: { method: 'aws-ec2-tags', ports: [7626, 'abc'] } }));
    const r = await cli(['config', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('discovery.ports[1]: expected integer 1-65535, got "abc"');
    expect(r.stderr).toContain(bad);
  });
});

describe('the built binary', () => {
  it('runs as a process with the documented exit codes', () => {
    const ok = spawnSync(process.execPath, [cliPath, 'resolve', '--service', 'x', '--discovery', STATIC, '--format', 'json'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).contactPoints[0]).toEqual({ host: '10.0.0.2', port: 7626 });
    const usage = spawnSync(process.execPath, [cliPath, 'resolve', '--service', 'x', '--discovery', 'method=static contactPoints'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('discovery.contactPoints: missing "=" after key');
    const version = spawnSync(process.execPath, [cliPath, '--version'], { encoding: 'utf8' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

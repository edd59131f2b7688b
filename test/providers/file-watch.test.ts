import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createDiscovery } from '../../src/registry.js';
import { isRegistryProvider, type RegistryProvider } from '../../src/types.js';

// fs events, not timing: each bound below is generous; what is checked is that a change arrives at all.
const BOUND_MS = 3000;
const root = () => mkdtempSync(path.join(os.tmpdir(), 'clusterseed-file-watch-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fileProvider(directory: string, extra: Record<string, unknown> = {}): Promise<RegistryProvider> {
  const p = await createDiscovery({ method: 'file', directory, ...extra } as never);
  if (!isRegistryProvider(p)) throw new Error('file provider must be a registry');
  return p;
}

/** Counts onChange calls; `next()` resolves at the next one, or rejects after BOUND_MS. */
function listener() {
  let calls = 0;
  let waiting: (() => void) | undefined;
  return {
    onChange: () => {
      calls++;
      waiting?.();
    },
    get calls() {
      return calls;
    },
    next(): Promise<void> {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no onChange within ${BOUND_MS} ms`)), BOUND_MS);
        waiting = () => {
          clearTimeout(t);
          waiting = undefined;
          resolve();
        };
      });
    },
  };
}

/**
 * A watching provider and another instance that registers, on one directory; both are closed and
 * the directory removed when the test ends (after its own finally has aborted the watch).
 */
async function providerPair(dir = root(), removeDir = dir, extra: Record<string, unknown> = {}) {
  const watcher = await fileProvider(dir, extra);
  const other = await fileProvider(dir, extra);
  onTestFinished(async () => {
    await other.close();
    await watcher.close();
    rmSync(removeDir, { recursive: true, force: true });
  });
  return { watcher, other };
}

/** Lets the watcher start (mkdir + fs.watch) and any burst already under way settle. */
const settle = () => sleep(100);

/** Arms a watch of service svc on `watcher` with a new listener and lets it start; abort `stop` to end it. */
async function watching(watcher: RegistryProvider) {
  const l = listener();
  const stop = new AbortController();
  watcher.watch!({ service: 'svc' }, l.onChange, stop.signal);
  await settle();
  return { l, stop };
}

describe('file provider watch', () => {
  it('a registration and a deregistration by another provider instance each call onChange', async () => {
    const { watcher, other } = await providerPair();
    const { l, stop } = await watching(watcher);
    try {
      const registered = l.next();
      const reg = await other.register({ host: '127.0.0.5', port: 7626 }, { service: 'svc' });
      await registered;
      expect((await watcher.resolve({ service: 'svc' })).map((p) => p.host)).toEqual(['127.0.0.5']);

      await settle();
      const deregistered = l.next();
      await reg.close();
      await deregistered;
      expect(await watcher.resolve({ service: 'svc' })).toEqual([]);
    } finally {
      stop.abort();
    }
  });

  it('coalesces a burst of registrations into few calls', async () => {
    const { watcher, other } = await providerPair();
    const { l, stop } = await watching(watcher);
    try {
      const first = l.next();
      await Promise.all(Array.from({ length: 20 }, (_, i) => other.register({ host: `127.0.0.${10 + i}`, port: 1 }, { service: 'svc' })));
      await first;
      await settle();
      // 20 entries, each a temp write and a rename: far fewer calls than events (no exact figure: it is timing).
      expect(l.calls).toBeGreaterThanOrEqual(1);
      expect(l.calls).toBeLessThan(20);
    } finally {
      stop.abort();
    }
  });

  it('a refresh of a known entry does not call onChange; a write to it that comes late (its owner was paused) does', async () => {
    // ttl 1 s: owners rewrite their entry every 333 ms; a write more than 500 ms after the last is late.
    const dir = root();
    const { watcher, other } = await providerPair(dir, dir, { ttlMs: 1000 });
    const { l, stop } = await watching(watcher);
    try {
      const registered = l.next();
      await other.register({ host: '127.0.0.5', port: 7626 }, { service: 'svc' });
      await registered;
      await settle();
      const afterRegistration = l.calls;
      // Four refreshes: the node set did not change, so no lookup is asked for.
      await sleep(1400);
      expect(l.calls).toBe(afterRegistration);
      // An entry whose owner stopped writing, then writes again (a SIGCONT after a SIGSTOP).
      const nodes = path.join(dir, 'svc', 'nodes');
      const entry = (at: number) => JSON.stringify({ host: '127.0.0.6', port: 7626, updatedAt: at });
      const write = async (at: number) => {
        await writeFile(path.join(nodes, '.tmp-entry'), entry(at));
        await rename(path.join(nodes, '.tmp-entry'), path.join(nodes, '127.0.0.6%3A7626.json'));
      };
      const appeared = l.next();
      await write(Date.now());
      await appeared;
      await sleep(700);
      const late = l.next();
      await write(Date.now());
      await late;
    } finally {
      stop.abort();
    }
  });

  it('calls onChange once armed: an entry written after the first lookup, before the watch was armed, is looked up', async () => {
    // The caller looks up, then the watch arms asynchronously (mkdir, fs.watch): a registration in
    // between raises no event. Without this call a node could miss a peer until its next interval.
    const { watcher } = await providerPair();
    const armed = listener();
    const stop = new AbortController();
    const first = armed.next();
    watcher.watch!({ service: 'svc' }, armed.onChange, stop.signal);
    try {
      await first;
      await settle();
      expect(armed.calls).toBe(1);
    } finally {
      stop.abort();
    }
  });

  it('stops on abort: no further calls, and a fresh watch still works', async () => {
    const { watcher, other } = await providerPair();
    const stopped = listener();
    const first = new AbortController();
    watcher.watch!({ service: 'svc' }, stopped.onChange, first.signal);
    await settle();
    first.abort();
    const beforeAbort = stopped.calls;
    const fresh = listener();
    const second = new AbortController();
    watcher.watch!({ service: 'svc' }, fresh.onChange, second.signal);
    try {
      await settle();
      const seen = fresh.next();
      await other.register({ host: '127.0.0.6', port: 1 }, { service: 'svc' });
      await seen;
      await settle();
      expect(stopped.calls).toBe(beforeAbort);
      expect(fresh.calls).toBeGreaterThanOrEqual(1);
    } finally {
      second.abort();
    }
  });

  it('an already aborted signal starts nothing; a listener that throws does not stop the watch', async () => {
    const { watcher, other } = await providerPair();
    const never = listener();
    watcher.watch!({ service: 'svc' }, never.onChange, AbortSignal.abort());
    let thrown = 0;
    const l = listener();
    const stop = new AbortController();
    watcher.watch!(
      { service: 'svc' },
      () => {
        l.onChange();
        thrown++;
        throw new Error('listener bug');
      },
      stop.signal,
    );
    try {
      await settle();
      const a = l.next();
      await other.register({ host: '127.0.0.7', port: 1 }, { service: 'svc' });
      await a;
      await settle();
      const b = l.next();
      await other.register({ host: '127.0.0.8', port: 1 }, { service: 'svc' });
      await b;
      expect(thrown).toBeGreaterThanOrEqual(2);
      expect(never.calls).toBe(0);
    } finally {
      stop.abort();
    }
  });

  it('a missing directory is created and watched', async () => {
    const base = root();
    const { watcher, other } = await providerPair(path.join(base, 'not', 'yet'), base);
    const { l, stop } = await watching(watcher);
    try {
      const seen = l.next();
      await other.register({ host: '127.0.0.9', port: 1 }, { service: 'svc' });
      await seen;
    } finally {
      stop.abort();
    }
  });

  it('a directory that cannot be created yet is watched once it can be', async () => {
    const base = root();
    // A file where the service directory's parent should be: mkdir fails until it is replaced.
    const blocker = path.join(base, 'shared');
    await import('node:fs/promises').then((fs) => fs.writeFile(blocker, 'not a directory'));
    const watcher = await fileProvider(blocker);
    const { l, stop } = await watching(watcher);
    try {
      rmSync(blocker);
      await mkdir(blocker);
      // Once the retry has armed the watch it reports one change (events may have been missed).
      await l.next();
      const other = await fileProvider(blocker);
      const seen = l.next();
      await other.register({ host: '127.0.0.4', port: 1 }, { service: 'svc' });
      await seen;
      await other.close();
    } finally {
      stop.abort();
      await watcher.close();
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('after abort nothing is left running: the process exits on its own', async () => {
    const dir = root();
    const registry = pathToFileURL(path.resolve('src/registry.ts')).href;
    // No process.exit: the child must end because no handle or timer of the watch is left.
    const script = `
      const { createDiscovery } = await import(${JSON.stringify(registry)});
      const p = await createDiscovery({ method: 'file', directory: ${JSON.stringify(dir)} });
      const stop = new AbortController();
      let calls = 0;
      const seen = new Promise((resolve) => p.watch({ service: 'svc' }, () => { calls++; resolve(); }, stop.signal));
      await new Promise((r) => setTimeout(r, 100));
      // The watch itself holds the process open for nobody (unref'd): keep it alive until the event.
      const keepAlive = setInterval(() => {}, 1000);
      const reg = await p.register({ host: '127.0.0.3', port: 1 }, { service: 'svc' });
      await seen;
      clearInterval(keepAlive);
      stop.abort();
      await reg.close();
      const after = calls;
      await new Promise((r) => setTimeout(r, 200));
      if (calls !== after) throw new Error('onChange after abort');
      console.log('done');
      // The process ends now or not at all: a watcher or timer left behind would hold it open.
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    rmSync(dir, { recursive: true, force: true });
    expect({ code, out: out.trim(), err }).toEqual({ code: 0, out: 'done', err: '' });
  });
});

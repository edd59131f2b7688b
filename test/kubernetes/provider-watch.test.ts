import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesClient } from '../../providers/kubernetes-api/client.js';
import { watchPods, type WatchPodsOptions } from '../../providers/kubernetes-api/watch.js';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { clientFor, podsPath, runningPod } from './provider-helpers.js';

/* The pod watch: changes, bookmarks, 410 re-list, stream end, errors with back-off, stop. */

let emu: KubernetesEmulator;
let client: KubernetesClient;
const stops: AbortController[] = [];
const running: Promise<void>[] = [];

beforeAll(async () => {
  emu = await startKubernetesEmulator({ bookmarkIntervalMs: 100 });
  client = clientFor(emu);
});
afterEach(async () => {
  for (const s of stops) s.abort();
  await Promise.all(running);
  stops.length = 0;
  running.length = 0;
  emu.faults.clear();
  emu.allowAll();
  emu.resetRequests();
});
afterAll(async () => {
  client.close();
  await emu.close();
});

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};
const watches = () => emu.requests.filter((r) => r.query.watch !== undefined);
const lists = () => emu.requests.filter((r) => r.query.watch === undefined && r.path === podsPath());

function start(labelSelector: string, extra: Partial<WatchPodsOptions> = {}) {
  const ac = new AbortController();
  stops.push(ac);
  const state = { changes: 0, done: false };
  const p = watchPods(
    client,
    { namespace: 'default', labelSelector, backoff: { initialMs: 50, maxMs: 100 }, ...extra },
    () => {
      state.changes++;
    },
    ac.signal,
  ).then(() => {
    state.done = true;
  });
  running.push(p);
  return { state, stop: () => ac.abort(), promise: p };
}

describe('watchPods', () => {
  it("lists, then watches from the list's resourceVersion with bookmarks; ADDED/MODIFIED/DELETED call onChange", async () => {
    emu.addPod({ ...runningPod(1), labels: { app: 'a1' } });
    const w = start('app=a1');
    await until(() => watches().length === 1);
    expect(lists()).toHaveLength(1);
    expect(watches()[0]!.query).toMatchObject({ watch: '1', allowWatchBookmarks: 'true', labelSelector: 'app=a1' });
    expect(Number(watches()[0]!.query.resourceVersion)).toBeGreaterThan(0);
    expect(w.state.changes).toBe(0); // the initial list does not notify
    await new Promise((r) => setTimeout(r, 50));
    emu.addPod({ ...runningPod(2), labels: { app: 'a1' } });
    await until(() => w.state.changes === 1);
    emu.markDeleting('default', 'web-2');
    await until(() => w.state.changes === 2);
    emu.deletePod('default', 'web-2');
    await until(() => w.state.changes === 3);
    emu.addPod({ ...runningPod(3), labels: { app: 'elsewhere' } });
    await new Promise((r) => setTimeout(r, 250)); // bookmarks arrive meanwhile
    expect(w.state.changes).toBe(3);
    w.stop();
    await w.promise;
    expect(w.state.done).toBe(true);
  });

  it('bookmarks move the resourceVersion silently: the re-watch after the stream ends starts from the bookmark', async () => {
    const w = start('app=b1', { timeoutSeconds: 1 });
    await until(() => watches().length === 1);
    const first = Number(watches()[0]!.query.resourceVersion);
    for (let i = 0; i < 3; i++) emu.addPod({ ...runningPod(10 + i), labels: { app: 'not-b1' } }); // RV moves, no event for us
    await until(() => watches().length === 2, 3000); // the server ended the first at timeoutSeconds
    const second = Number(watches()[1]!.query.resourceVersion);
    expect(second).toBeGreaterThan(first);
    expect(lists()).toHaveLength(1); // no re-list
    expect(w.state.changes).toBe(0);
  });

  it('a 410 (compacted resourceVersion) re-lists and calls onChange', async () => {
    const quiet = await startKubernetesEmulator({ bookmarkIntervalMs: 600_000 });
    const c = clientFor(quiet);
    const ac = new AbortController();
    let changes = 0;
    try {
      const p = watchPods(
        c,
        { namespace: 'default', labelSelector: 'app=c1', backoff: { initialMs: 50, maxMs: 100 } },
        () => {
          changes++;
        },
        ac.signal,
      );
      const qWatches = () => quiet.requests.filter((r) => r.query.watch !== undefined);
      const qLists = () => quiet.requests.filter((r) => r.query.watch === undefined && r.path === podsPath());
      await until(() => qWatches().length === 1);
      quiet.addPod({ ...runningPod(20), labels: { app: 'c1' } }); // missed below: compacted away before our re-watch
      await until(() => changes === 1);
      quiet.addPod({ ...runningPod(21), labels: { app: 'other' } });
      quiet.faults.compact(); // ends the watch; the re-watch from the old RV gets an ERROR 410 event
      await until(() => qLists().length === 2);
      await until(() => changes === 2);
      await until(() => qWatches().length === 3);
      // A 410 of a watch is an ERROR event in a 200 stream, as on a real API server.
      expect(qWatches().map((w) => w.status)).toEqual([200, 200, 200]);
      // the last watch starts from the new list, not the compacted RV
      expect(Number(qWatches()[2]!.query.resourceVersion)).toBeGreaterThanOrEqual(Number(qWatches()[1]!.query.resourceVersion));
      quiet.addPod({ ...runningPod(22), labels: { app: 'c1' } });
      await until(() => changes === 3);
      ac.abort();
      await p;
    } finally {
      ac.abort();
      c.close();
      await quiet.close();
    }
  });

  it('errors back off and retry; the watch recovers (403 on watch, then allowed)', async () => {
    emu.deny({ verb: 'watch', resource: 'pods' });
    const w = start('app=d1');
    await until(() => watches().filter((r) => r.status === 403).length >= 3);
    expect(w.state.done).toBe(false);
    emu.allowAll();
    await until(() => watches().some((r) => r.status === 200));
    emu.addPod({ ...runningPod(30), labels: { app: 'd1' } });
    await until(() => w.state.changes >= 1);
  });

  it('a malformed event line is survived (back-off, re-watch from the last resourceVersion)', async () => {
    emu.faults.malformed((r) => r.query.watch !== undefined);
    const w = start('app=e1');
    await until(() => watches().length >= 2);
    emu.faults.clear();
    const before = watches().length;
    await until(() => watches().length > before && watches().at(-1)!.status === 200);
    await new Promise((r) => setTimeout(r, 50));
    emu.addPod({ ...runningPod(40), labels: { app: 'e1' } });
    await until(() => w.state.changes >= 1);
    expect(lists()).toHaveLength(1);
  });

  it('a throwing onChange does not stop the watch', async () => {
    const ac = new AbortController();
    stops.push(ac);
    let calls = 0;
    running.push(
      watchPods(
        client,
        { namespace: 'default', labelSelector: 'app=f1' },
        () => {
          calls++;
          throw new Error('boom');
        },
        ac.signal,
      ),
    );
    await until(() => watches().length === 1);
    emu.addPod({ ...runningPod(50), labels: { app: 'f1' } });
    await until(() => calls === 1);
    emu.addPod({ ...runningPod(51), labels: { app: 'f1' } });
    await until(() => calls === 2);
  });

  it('stops at once on abort, also while hung or backing off', async () => {
    emu.faults.hang();
    const w = start('app=g1');
    await until(() => emu.requests.length >= 1);
    const t0 = performance.now();
    w.stop();
    await w.promise;
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

/*
 * Networks must not outlive the process that made them, even when a test fails without reaching its
 * afterAll (a crash, process.exit, Ctrl-C, the runner's SIGTERM). Every live network is tracked here;
 * on 'exit' and on SIGINT/SIGTERM/SIGHUP each is torn down synchronously, then the signal is raised
 * again so the process still ends the way it would have.
 */

export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
let installed = false;

function destroyAll(): void {
  for (const n of [...live]) {
    try {
      n.destroySync();
    } catch (err) {
      process.stderr.write(`netns: cleanup failed: ${(err as Error).message}\n`);
    }
    live.delete(n);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      destroyAll();
      process.kill(process.pid, signal);
    });
  }
}

export function trackForExit(n: SyncDestroyable): void {
  install();
  live.add(n);
}

export function untrackForExit(n: SyncDestroyable): void {
  live.delete(n);
}

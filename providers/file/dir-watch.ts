import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../../src/logger.js';

/**
 * fs.watch on one directory, as the lock waiters and the discovery watch use it: never keeps the
 * process alive, never throws. Returns undefined where fs.watch is unavailable (some network
 * filesystems and containers): the caller then relies on its poll or interval, and says so at debug.
 * `onError` runs once when a live watcher breaks (the directory was removed, the watch limit hit);
 * the watcher is closed by then.
 */
export function watchDirectory(dir: string, onEvent: (filename: string | null) => void, logger: Logger, onError?: (err: Error) => void): FSWatcher | undefined {
  try {
    const w = watch(dir, { persistent: false }, (_event, filename) => onEvent(typeof filename === 'string' ? filename : null));
    w.on('error', (err: Error) => {
      w.close();
      logger.debug({ dir, error: err.message }, 'file: fs.watch stopped');
      onError?.(err);
    });
    return w;
  } catch (err) {
    logger.debug({ dir, error: (err as Error).message }, 'file: fs.watch unavailable; changes show up at the next poll or lookup');
    return undefined;
  }
}

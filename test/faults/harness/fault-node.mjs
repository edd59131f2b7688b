// One clusterseed node as a real process, for the fault suite (test/faults). Plain Node ESM on the
// built package (dist), so a paused or killed process is exactly what a user's process would be.
//
//   node fault-node.mjs <config.json>
//   FAULT_AT      before-lock | holding-lock | in-join | after-decision | before-decision   (optional)
//   FAULT_ACTION  stop (SIGSTOP self; the test sends SIGCONT) | kill (SIGKILL self)        [stop]
//   FAULT_JOIN_MS how long the app's join() takes                                           [0]
//
// stdout: one JSON event a line — started {pid}, step {step}, joining {seeds}, decided {result},
// conflict {conflict}, error {message}. stderr: every logger call as one JSON line.
// Exit codes: 0 after SIGTERM/SIGINT, 3 after yielding in a cluster conflict, 1 when bootstrap fails.
import { readFileSync, writeSync } from 'node:fs';
import { bootstrap } from '../../../dist/src/index.js';

/** The exact log message that marks each step (the contract's step markers). */
const STEP_MARKERS = {
  'before-decision': 'bootstrapping',
  'before-lock': 'lock: registered',
  'holding-lock': 'lock: holding the lock with no cluster recorded; forming a new cluster',
  'after-decision': 'bootstrap decided',
};
const FAULT_AT = process.env.FAULT_AT || undefined;
const FAULT_ACTION = process.env.FAULT_ACTION || 'stop';
const JOIN_MS = Number(process.env.FAULT_JOIN_MS || 0);
if (FAULT_AT !== undefined && FAULT_AT !== 'in-join' && !(FAULT_AT in STEP_MARKERS)) throw new Error(`FAULT_AT: unknown step ${FAULT_AT}`);
if (FAULT_ACTION !== 'stop' && FAULT_ACTION !== 'kill') throw new Error(`FAULT_ACTION: expected stop or kill, got ${FAULT_ACTION}`);

// Synchronous writes: the event must be in the pipe before the process stops or dies.
const emit = (event) => writeSync(1, `${JSON.stringify(event)}\n`);
const errorText = (e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

let faultFired = false;
/** At the configured step, once: announce it, then stop or kill this very process, synchronously. */
function faultPoint(step) {
  if (faultFired || step !== FAULT_AT) return;
  faultFired = true;
  emit({ event: 'step', step });
  process.kill(process.pid, FAULT_ACTION === 'kill' ? 'SIGKILL' : 'SIGSTOP');
  // Resumed by SIGCONT: carry on with the state from before the pause, as a frozen VM would.
}

const stepOfMessage = new Map(Object.entries(STEP_MARKERS).map(([step, msg]) => [msg, step]));
const logAt = (level) => (obj, msg) => {
  const message = typeof obj === 'string' ? obj : (msg ?? '');
  const fields = typeof obj === 'object' && obj !== null ? obj : {};
  let line;
  try {
    line = JSON.stringify({ t: Date.now(), level, msg: message, ...fields }, (_k, v) => (v instanceof Error ? errorText(v) : v));
  } catch {
    line = JSON.stringify({ t: Date.now(), level, msg: message });
  }
  writeSync(2, `${line}\n`);
  const step = stepOfMessage.get(message);
  if (step !== undefined) faultPoint(step);
};
const logger = { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') };

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const stopping = new AbortController();
let node;
let exiting = false;
async function exitAfterClose(code) {
  if (exiting) return;
  exiting = true;
  stopping.abort(new Error('stopped by signal'));
  await node?.close().catch((e) => logger.warn({ error: errorText(e) }, 'fault-node: close failed'));
  process.exit(code);
}
process.on('SIGTERM', () => void exitAfterClose(0));
process.on('SIGINT', () => void exitAfterClose(0));

emit({ event: 'started', pid: process.pid });
const hooks = {
  logger,
  signal: stopping.signal,
  join: async (seeds) => {
    emit({ event: 'joining', seeds });
    faultPoint('in-join');
    if (JOIN_MS > 0) await new Promise((r) => setTimeout(r, JOIN_MS));
  },
  onConflict: async (conflict) => {
    emit({ event: 'conflict', conflict });
    // onConflict may run before bootstrap() has handed the node over.
    node ??= await started.catch(() => undefined);
    await exitAfterClose(3);
  },
};
// A build from before onConflict existed rejects the key: run it without, so the suite can show
// what such a build does (two clusters, nobody yields).
const started = bootstrap({ ...config, ...hooks }).catch((err) => {
  if (!/onConflict: unknown key/.test(String(err?.message))) throw err;
  logger.warn({}, 'fault-node: this build has no onConflict; running without it');
  const { onConflict: _unsupported, ...older } = hooks;
  return bootstrap({ ...config, ...older });
});
try {
  node = await started;
  emit({ event: 'decided', result: node.result });
} catch (err) {
  if (!exiting) {
    emit({ event: 'error', message: errorText(err) });
    process.exit(1);
  }
}

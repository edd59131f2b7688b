import { spawn, spawnSync } from 'node:child_process';

/** One finished command: what the partition library needs to report a failure precisely. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to stdin (nft -f - reads its ruleset there). */
  input?: string;
  /** Resolve with a non-zero exit instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: ExecResult,
  ) {
    const how = result.signal ?? `exit ${result.code}`;
    super(`netns: \`${argv.join(' ')}\` failed (${how}): ${result.stderr.trim() || result.stdout.trim() || '(no output)'}`);
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Runs a command to completion (async: the test's own timers and children keep running meanwhile). */
export function exec(cmd: string, args: string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      ...(options.env ? { env: options.env } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    child.once('error', (err) => reject(new Error(`netns: \`${cmd} ${args.join(' ')}\` could not run: ${err.message}`)));
    child.once('close', (code, signal) => {
      const result = { code, signal, stdout, stderr };
      if (code === 0 || options.allowFail) resolve(result);
      else reject(new CommandError([cmd, ...args], result));
    });
    child.stdin.on('error', () => {}); // a command that exits before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** The synchronous twin, for process 'exit' and signal handlers, where nothing async runs any more. */
export function execSync(cmd: string, args: string[], options: ExecOptions = {}): ExecResult {
  const r = spawnSync(cmd, args, {
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    ...(options.env ? { env: options.env } : {}),
  });
  const result = { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.error ? r.error.message : (r.stderr ?? '') };
  if (result.code !== 0 && !options.allowFail) throw new CommandError([cmd, ...args], result);
  return result;
}

/** True while a process with this pid exists (EPERM: it exists but is not ours to signal). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

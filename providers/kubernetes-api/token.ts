import { readFile } from 'node:fs/promises';
import { monotonicNow, systemClock, type Clock } from '../../src/clock.js';
import { AuthError, ConfigError } from '../../src/errors.js';
import { silentLogger, type Logger } from '../../src/logger.js';

/*
 * The service-account bearer token, re-read because projected tokens rotate (the kubelet rewrites the
 * file at 80 % of the token's lifetime, an hour by default). Pekko, Akka and Hazelcast each read it
 * once and failed for good once the old token was revoked. Here:
 * - get() serves the cached token for at most maxAgeMs (60 s), then reads the file again;
 * - refresh() reads it at once (the client calls it after a 401 and retries that request once);
 * - the token is never logged, and scrub() removes every token this source has held from any text
 *   that might reach an error message (the API server does not echo tokens, but never risk it).
 */

export const TOKEN_MAX_AGE_MS = 60_000;
/** How many past tokens scrub() remembers (a rotation keeps the old one valid for a while). */
const REMEMBERED_TOKENS = 8;

export interface TokenSourceDeps {
  clock?: Clock;
  logger?: Logger;
  /** [60 000] */
  maxAgeMs?: number;
  /** The option that names the file, for messages ["discovery.tokenFile"]. */
  key?: string;
}

export class ServiceAccountToken {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #maxAgeMs: number;
  readonly #key: string;
  #token: string | undefined;
  #readAt = 0;
  #reading: Promise<string> | undefined;
  readonly #seen: string[] = [];

  constructor(
    readonly file: string,
    deps: TokenSourceDeps = {},
  ) {
    this.#clock = deps.clock ?? systemClock;
    this.#logger = deps.logger ?? silentLogger;
    this.#maxAgeMs = deps.maxAgeMs ?? TOKEN_MAX_AGE_MS;
    this.#key = deps.key ?? 'discovery.tokenFile';
  }

  /** The first read, at start-up: a missing, unreadable or empty file is a ConfigError naming the key. */
  async load(): Promise<string> {
    try {
      return await this.refresh();
    } catch (err) {
      throw new ConfigError(`${this.#key}: cannot read the service-account token ${this.file}: ${reason(err)}`, {
        cause: err,
        hint:
          'run in a pod whose service account token is mounted (automountServiceAccountToken must not be false), ' +
          'or set discovery.tokenFile to a file holding a bearer token',
      });
    }
  }

  /** The token, re-read when the cached copy is older than maxAgeMs. */
  async get(): Promise<string> {
    if (this.#token !== undefined && monotonicNow(this.#clock) - this.#readAt < this.#maxAgeMs) return this.#token;
    if (this.#token === undefined) return this.refresh();
    try {
      return await this.refresh();
    } catch (err) {
      // A periodic re-read that fails keeps the last token: the old one usually stays valid for a while
      // after a rotation, and a 401 would make us try again (and then fail for real).
      this.#logger.warn({ tokenFile: this.file, err: reason(err) }, 'kubernetes-api: cannot re-read the service-account token file; using the last one read');
      return this.#token;
    }
  }

  /** Reads the file now (after a 401). Concurrent callers share one read. */
  refresh(): Promise<string> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** Replaces every token this source has held with [redacted]. */
  scrub(text: string): string {
    let out = text;
    for (const t of this.#seen) if (t.length >= 8) out = out.split(t).join('[redacted]');
    return out;
  }

  async #read(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      throw new AuthError(`cannot read the service-account token ${this.file}: ${reason(err)}`, {
        cause: err,
        hint: `check ${this.#key} and that the token is mounted into the pod`,
      });
    }
    const token = text.trim();
    if (token === '' || /\s/.test(token)) {
      throw new AuthError(`the service-account token file ${this.file} is ${token === '' ? 'empty' : 'not a single bearer token'}`, {
        hint: `${this.#key} must hold one bearer token`,
      });
    }
    if (token !== this.#token) {
      if (this.#token !== undefined) this.#logger.debug({ tokenFile: this.file }, 'kubernetes-api: the service-account token changed (rotation)');
      this.#seen.push(token);
      if (this.#seen.length > REMEMBERED_TOKENS) this.#seen.shift();
    }
    this.#token = token;
    this.#readAt = monotonicNow(this.#clock);
    return token;
  }
}

function reason(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

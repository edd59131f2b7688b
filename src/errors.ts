/**
 * Every failure clusterseed reports is a ClusterseedError with a stable `code` (documented in
 * docs/errors.md), a `retriable` flag that the retrier honours, an optional `hint` that tells the
 * user what to do, and the original `cause`.
 */
export type ErrorCode =
  | 'CLUSTERSEED_E_CONFIG'
  | 'CLUSTERSEED_E_DISCOVERY'
  | 'CLUSTERSEED_E_THROTTLED'
  | 'CLUSTERSEED_E_AUTH'
  | 'CLUSTERSEED_E_TIMEOUT'
  | 'CLUSTERSEED_E_METADATA'
  | 'CLUSTERSEED_E_PROTOCOL'
  | 'CLUSTERSEED_E_ABORTED';

export interface ClusterseedErrorOptions {
  cause?: unknown;
  hint?: string;
  retriable?: boolean;
}

export class ClusterseedError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ClusterseedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.hint = options.hint;
  }
}

/** Invalid configuration: never retriable, the message names the key path. */
export class ConfigError extends ClusterseedError {
  constructor(message: string, options: Omit<ClusterseedErrorOptions, 'retriable'> = {}) {
    super('CLUSTERSEED_E_CONFIG', message, { ...options, retriable: false });
  }
}

/** A discovery backend failed (network error, 5xx, missing cluster…). Retriable by default. */
export class DiscoveryError extends ClusterseedError {
  /** For aggregate failures: the error of every method tried, in order. */
  readonly errors: readonly Error[];
  constructor(message: string, options: ClusterseedErrorOptions & { errors?: readonly Error[] } = {}) {
    super('CLUSTERSEED_E_DISCOVERY', message, { retriable: true, ...options });
    this.errors = options.errors ?? [];
  }
}

/** The backend asked us to slow down (RequestLimitExceeded, ThrottlingException, HTTP 429). */
export class ThrottledError extends ClusterseedError {
  constructor(message: string, options: Omit<ClusterseedErrorOptions, 'retriable'> = {}) {
    super('CLUSTERSEED_E_THROTTLED', message, { ...options, retriable: true });
  }
}

/** Missing or rejected credentials / tokens / ACLs. The message never contains the secret. */
export class AuthError extends ClusterseedError {
  constructor(message: string, options: Omit<ClusterseedErrorOptions, 'retriable'> = {}) {
    super('CLUSTERSEED_E_AUTH', message, { ...options, retriable: false });
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends ClusterseedError {
  constructor(message: string, options: ClusterseedErrorOptions = {}) {
    super('CLUSTERSEED_E_TIMEOUT', message, { retriable: true, ...options });
  }
}

/** The ECS task metadata endpoint or IMDS could not be used. */
export class MetadataError extends ClusterseedError {
  constructor(message: string, options: ClusterseedErrorOptions = {}) {
    super('CLUSTERSEED_E_METADATA', message, { retriable: true, ...options });
  }
}

/** A peer or backend answered with something that does not match its documented format. */
export class ProtocolError extends ClusterseedError {
  constructor(message: string, options: ClusterseedErrorOptions = {}) {
    super('CLUSTERSEED_E_PROTOCOL', message, { retriable: true, ...options });
  }
}

/** The caller's AbortSignal fired. Never retried. */
export class AbortedError extends ClusterseedError {
  constructor(message = 'operation aborted', options: Omit<ClusterseedErrorOptions, 'retriable'> = {}) {
    super('CLUSTERSEED_E_ABORTED', message, { ...options, retriable: false });
  }
}

export function isClusterseedError(err: unknown): err is ClusterseedError {
  return err instanceof ClusterseedError;
}

/** One readable line: `<message> — <hint>`. */
export function describeError(err: unknown): string {
  if (err instanceof ClusterseedError) return err.hint ? `${err.message} — ${err.hint}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

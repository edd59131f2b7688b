import { abortReason } from '../../src/backoff.js';
import { AbortedError, AuthError, ClusterseedError, ConfigError, DiscoveryError, ProtocolError, ThrottledError } from '../../src/errors.js';

/*
 * AWS SDK v3 failures → our typed errors. Service errors carry the AWS error code as `name` and
 * `$fault` ('client' | 'server'); a response the SDK could not parse carries a hidden `$response`
 * and no `$fault`; a missing credential chain is a CredentialsProviderError.
 */

const THROTTLING_CODES = new Set([
  'RequestLimitExceeded', // EC2
  'ThrottlingException', // ECS and most JSON APIs
  'Throttling',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

/** The caller has no permission for the action (the credentials themselves are valid). */
const PERMISSION_CODES = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException']);

/** The credentials were rejected (unknown key, bad signature, expired session). */
const CREDENTIAL_CODES = new Set([
  'AuthFailure',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'InvalidSignatureException',
]);

export const CREDENTIALS_HINT =
  'provide AWS credentials: an IAM role (EC2 instance profile / ECS task role), AWS_PROFILE, ' +
  'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment';

export interface AwsCallDescription {
  /** e.g. "ec2:DescribeInstances" — also the IAM action. */
  iamAction: string;
  /** The endpoint we talk to, for network error messages (no secrets in it). */
  endpoint?: string | undefined;
}

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $response?: unknown;
  Code?: string;
}

export function httpStatusOf(err: unknown): number | undefined {
  const status = (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Maps any failure of one SDK call to a ClusterseedError. `signal` is the call's signal (abort/timeout wins). */
export function mapAwsError(err: unknown, call: AwsCallDescription, signal?: AbortSignal): ClusterseedError {
  if (err instanceof ClusterseedError) return err;
  if (signal?.aborted) {
    const reason = abortReason(signal);
    return reason instanceof ClusterseedError ? reason : new AbortedError(reason.message, { cause: reason });
  }
  const e = (err ?? {}) as SdkErrorShape;
  const name = e.name ?? 'Error';
  const message = firstLine(e.message ?? String(err));
  const status = httpStatusOf(err);
  const requestId = e.$metadata?.requestId ? ` (request id ${e.$metadata.requestId})` : '';
  const what = `${call.iamAction} failed`;

  if (THROTTLING_CODES.has(name) || status === 429) {
    return new ThrottledError(`${what}: throttled by AWS (${name === 'Error' ? `HTTP ${status}` : name})${requestId}`, {
      cause: err,
      hint: 'backing off; if this persists, lower the discovery frequency (bootstrap.discoveryIntervalMs) or raise the account API rate limit',
    });
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new AuthError(`${what}: no AWS credentials found`, { cause: err, hint: CREDENTIALS_HINT });
  }
  if (PERMISSION_CODES.has(name)) {
    return new AuthError(`${what}: not authorized to perform ${call.iamAction} (${name})${requestId}`, {
      cause: err,
      hint: `allow "${call.iamAction}" in the IAM policy of this role (see docs/providers for the least-privilege policy)`,
    });
  }
  if (CREDENTIAL_CODES.has(name)) {
    return new AuthError(`${what}: AWS rejected the credentials (${name})${requestId}`, { cause: err, hint: CREDENTIALS_HINT });
  }
  if (/region is missing/i.test(message)) {
    return new ConfigError(`${what}: no AWS region configured`, { cause: err, hint: 'set discovery.region or AWS_REGION' });
  }
  if (e.$response !== undefined && e.$fault === undefined) {
    return new ProtocolError(`${what}: the response could not be parsed (${message.replace(/\s*Deserialization error:.*$/s, '')})${requestId}`, {
      cause: err,
      hint: 'the endpoint does not speak the AWS API correctly; check the endpoint setting (AWS_ENDPOINT_URL_*) or retry',
    });
  }
  if (e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new DiscoveryError(`${what}: AWS server error ${name}${status ? ` (HTTP ${status})` : ''}${requestId}`, {
      cause: err,
      retriable: true,
      hint: 'transient on the AWS side; retrying with back-off',
    });
  }
  if (e.$fault === 'client') {
    return new DiscoveryError(`${what}: ${name}: ${message}${requestId}`, {
      cause: err,
      retriable: false,
      hint: 'the request was rejected; check the discovery options (filters, cluster, service name)',
    });
  }
  const code = e.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  return new DiscoveryError(`${what}: ${code ? `${code} ` : ''}${message}`, {
    cause: err,
    retriable: true,
    hint: call.endpoint ? `check that ${call.endpoint} is reachable` : 'check network access to the AWS API endpoint (VPC endpoint, NAT, proxy)',
  });
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}

import { abortReason } from '../backoff.js';
import { MetadataError } from '../errors.js';
import { withDeadline } from '../signal.js';

/*
 * A small EC2 instance metadata (IMDS) client: IMDSv2 only (PUT a session token, then GET with
 * it), IMDSv1 only when explicitly allowed. We do not use the SDK's metadata client so that
 * `import 'clusterseed'` stays free of the AWS SDK and so every call honours our deadline and signal.
 */

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const DEFAULT_IMDS_IPV6_ENDPOINT = 'http://[fd00:ec2::254]';
const TOKEN_TTL_SECONDS = 21_600;

export interface ImdsOptions {
  env?: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Bound of each HTTP call [2000 ms]. */
  timeoutMs?: number;
  /** Fall back to IMDSv1 (no token) when the token request fails [false]. */
  allowImdsV1?: boolean;
}

/** The endpoint the AWS SDKs use: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the link-local address (IPv4 or, with ENDPOINT_MODE=IPv6, IPv6). */
export function imdsEndpoint(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const configured = env.AWS_EC2_METADATA_SERVICE_ENDPOINT?.trim();
  if (configured) return configured.replace(/\/+$/, '');
  return env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE?.toLowerCase() === 'ipv6' ? DEFAULT_IMDS_IPV6_ENDPOINT : DEFAULT_IMDS_ENDPOINT;
}

const HOP_LIMIT_HINT =
  'on EC2, a container in bridge networking needs the instance metadata hop limit set to 2 ' +
  '(aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2 --http-tokens required); ' +
  'outside EC2 use self.mode "interface" or an explicit self.host';

/** IMDSv2 session: one token, reused for every GET until it nears its TTL. */
export class ImdsClient {
  readonly endpoint: string;
  readonly #options: ImdsOptions;
  #token: { value: string; expiresAt: number } | undefined;
  /** HTTP calls made so far (token PUTs included), for tests and docs. */
  calls = 0;

  constructor(options: ImdsOptions = {}) {
    this.#options = options;
    this.endpoint = imdsEndpoint(options.env);
  }

  /** GET /latest/meta-data/<path> as text (e.g. "local-ipv4", "instance-id", "placement/availability-zone"). */
  async getMetadata(path: string, signal?: AbortSignal): Promise<string> {
    const resource = `/latest/meta-data/${path.replace(/^\/+/, '')}`;
    let token: string | undefined;
    try {
      token = await this.#getToken(signal);
    } catch (err) {
      const parent = signal ?? this.#options.signal;
      if (!this.#options.allowImdsV1 || parent?.aborted) throw err;
      token = undefined; // IMDSv1 fallback, explicitly configured
    }
    const headers: Record<string, string> = token === undefined ? {} : { 'x-aws-ec2-metadata-token': token };
    const res = await this.#request('GET', resource, headers, signal);
    if (res.status === 401) {
      this.#token = undefined;
      throw new MetadataError(`IMDS rejected the session token for ${resource} (HTTP 401)`, {
        retriable: true,
        hint: token === undefined ? 'this instance requires IMDSv2 (tokens); remove allowImdsV1 or check the hop limit' : 'retry; the token may have expired',
      });
    }
    if (res.status === 404) {
      throw new MetadataError(`IMDS has no ${resource} on this instance (HTTP 404)`, {
        retriable: false,
        hint: 'the instance may have no such address (e.g. no public IPv4); choose another addressType or self.mode',
      });
    }
    if (res.status !== 200) {
      throw new MetadataError(`IMDS answered HTTP ${res.status} for ${resource}`, { hint: 'retry later; IMDS may be throttling (HTTP 429) or unavailable' });
    }
    return res.body.trim();
  }

  async #getToken(signal?: AbortSignal): Promise<string> {
    const now = Date.now();
    if (this.#token && this.#token.expiresAt > now) return this.#token.value;
    const res = await this.#request('PUT', '/latest/api/token', { 'x-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) }, signal, true);
    if (res.status === 403) {
      throw new MetadataError('IMDS refused the token request (HTTP 403): instance metadata is disabled on this instance', {
        retriable: false,
        hint: 'enable it (aws ec2 modify-instance-metadata-options --http-endpoint enabled) or use self.mode "interface"',
      });
    }
    if (res.status !== 200) {
      throw new MetadataError(`IMDS token request failed with HTTP ${res.status}`, {
        hint: 'IMDSv2 must be available; set allowImdsV1 only if the instance cannot serve tokens',
      });
    }
    const value = res.body.trim();
    if (!value || /\s/.test(value)) throw new MetadataError('IMDS returned an empty or malformed session token', { hint: HOP_LIMIT_HINT });
    // Refresh a minute early so a long-lived client never sends an expired token.
    this.#token = { value, expiresAt: now + (TOKEN_TTL_SECONDS - 60) * 1000 };
    return value;
  }

  async #request(
    method: 'GET' | 'PUT',
    resource: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    isToken = false,
  ): Promise<{ status: number; body: string }> {
    const timeoutMs = this.#options.timeoutMs ?? 2000;
    const parent = signal ?? this.#options.signal;
    const deadline = withDeadline(`IMDS ${method} ${resource} at ${this.endpoint}`, timeoutMs, parent);
    this.calls += 1;
    try {
      const res = await fetch(`${this.endpoint}${resource}`, { method, headers, signal: deadline.signal });
      const body = await res.text();
      return { status: res.status, body };
    } catch (err) {
      // The caller's own deadline or abort wins; only our per-call timeout means "IMDS did not answer".
      if (parent?.aborted) throw abortReason(parent);
      if (deadline.signal.aborted) {
        const reason = abortReason(deadline.signal);
        throw new MetadataError(`${reason.message}${isToken ? ' (no IMDSv2 token)' : ''}`, { cause: reason, hint: HOP_LIMIT_HINT });
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const detail = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new MetadataError(`IMDS at ${this.endpoint} is unreachable (${detail})`, {
        cause: err,
        hint: `not running on EC2? ${HOP_LIMIT_HINT}`,
      });
    } finally {
      deadline.dispose();
    }
  }
}

/** One-shot helper: fetch one metadata value with a fresh IMDSv2 session. */
export async function fetchImdsMetadata(path: string, options: ImdsOptions = {}): Promise<string> {
  return new ImdsClient(options).getMetadata(path, options.signal);
}

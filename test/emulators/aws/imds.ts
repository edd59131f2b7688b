/*
 * IMDSv2 as documented in the EC2 user guide ("Use the Instance Metadata Service to access instance
 * metadata"): PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1–21600) returns a
 * token as text/plain; GET /latest/meta-data/... requires X-aws-ec2-metadata-token when IMDSv2 is
 * required (401 without or with an unknown token); an X-Forwarded-For header on the PUT is refused
 * (403). `hopLimitExceeded` simulates a container behind a bridge with hop limit 1: the PUT response
 * never arrives (the client must time out).
 */
import { randomBytes } from 'node:crypto';
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from './server.js';

export interface ImdsState {
  /** Path under /latest/meta-data/ → value. */
  metadata: Record<string, string>;
  /** 'required' (IMDSv2 only) or 'optional' (v1 GETs without a token also work). */
  httpTokens: 'required' | 'optional';
  /** Drop the token response (bridge container with hop limit 1). */
  hopLimitExceeded: boolean;
  /** IMDS disabled on the instance: every request 403s / 404s. */
  disabled: boolean;
}

export function defaultImdsState(overrides: Partial<ImdsState> = {}): ImdsState {
  return {
    metadata: {
      'local-ipv4': '10.0.1.17',
      'public-ipv4': '203.0.113.17',
      'instance-id': 'i-0123456789abcdef0',
      'placement/availability-zone': 'eu-west-1a',
      'local-hostname': 'ip-10-0-1-17.eu-west-1.compute.internal',
    },
    httpTokens: 'required',
    hopLimitExceeded: false,
    disabled: false,
    ...overrides,
  };
}

const text = (status: number, body: string): EmulatorResponse => ({ status, headers: { 'content-type': 'text/plain' }, body });

export class ImdsHandler implements EmulatorHandler {
  readonly name = 'imds';
  readonly state: ImdsState;
  readonly #tokens = new Map<string, number>();

  constructor(state: Partial<ImdsState> = {}) {
    this.state = defaultImdsState(state);
  }

  match(req: EmulatorRequest): string | undefined {
    if (req.path === '/latest/api/token' || req.path.startsWith('/latest/meta-data')) return `imds:${req.method} ${req.path}`;
    return undefined;
  }

  handle(req: EmulatorRequest): EmulatorResponse | Promise<EmulatorResponse> {
    if (req.path === '/latest/api/token') return this.#token(req);
    if (req.method !== 'GET') return text(405, 'Method Not Allowed');
    if (this.state.disabled) return text(404, 'Not Found');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token === 'string') {
      const expires = this.#tokens.get(token);
      if (expires === undefined || expires < Date.now()) return text(401, 'Unauthorized');
    } else if (this.state.httpTokens === 'required') {
      return text(401, 'Unauthorized');
    }
    const key = req.path.replace(/^\/latest\/meta-data\/?/, '').replace(/\/$/, '');
    if (key === '') return text(200, Object.keys(this.state.metadata).join('\n'));
    const value = this.state.metadata[key];
    return value === undefined ? text(404, 'Not Found') : text(200, value);
  }

  fault(kind: 'throttle' | 'error500' | 'malformed'): EmulatorResponse {
    if (kind === 'throttle') return text(429, 'Too Many Requests');
    if (kind === 'error500') return text(500, 'Internal Server Error');
    return text(200, '');
  }

  #token(req: EmulatorRequest): EmulatorResponse | Promise<EmulatorResponse> {
    if (req.method !== 'PUT') return text(405, 'Method Not Allowed');
    if (this.state.disabled) return text(403, 'Forbidden');
    if (req.headers['x-forwarded-for'] !== undefined) return text(403, 'Forbidden');
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return text(400, 'Bad Request');
    if (this.state.hopLimitExceeded) return new Promise<never>(() => {}); // the reply is lost on the extra hop
    const token = randomBytes(32).toString('base64');
    this.#tokens.set(token, Date.now() + ttl * 1000);
    return { status: 200, headers: { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) }, body: token };
  }
}

import http from 'node:http';
import { formatHostPort } from '../address.js';
import { abortReason } from '../backoff.js';
import { AuthError, ClusterseedError, DiscoveryError, ProtocolError } from '../errors.js';
import type { ContactPoint } from '../types.js';
import { parseSeedNodesResponse, SEED_NODES_PATH, type SeedNodesResponse } from './protocol.js';

/** How the coordinator asks a peer for its state; injected so tests and the simulation script it. */
export interface ProbeTransport {
  /** Must settle once `signal` fires (the coordinator aborts it after probeTimeoutMs). */
  probe(target: ContactPoint, options: { signal: AbortSignal }): Promise<SeedNodesResponse>;
  close(): Promise<void>;
}

/** A peer's answer is a few hundred bytes; anything far larger is not a clusterseed endpoint. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpProbeOptions {
  token?: string | undefined;
  /** Port used for contact points discovered without one (EC2 tags without `ports`, A records…). */
  defaultPort: number;
}

/**
 * HTTP probes over one keep-alive agent: each peer is probed at most once at a time, so one socket
 * per peer is reused for the whole bootstrap; close() destroys them all.
 */
export function createHttpProbeTransport(options: HttpProbeOptions): ProbeTransport {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: 30_000 });
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;

  const probe = (target: ContactPoint, { signal }: { signal: AbortSignal }) =>
    new Promise<SeedNodesResponse>((resolve, reject) => {
      const where = `probe of ${formatHostPort(target)}`;
      if (signal.aborted) return reject(abortReason(signal));
      const req = http.request({
        host: target.host,
        port: target.port ?? options.defaultPort,
        path: SEED_NODES_PATH,
        method: 'GET',
        headers,
        agent,
        signal,
      });
      const fail = (err: unknown) => {
        if (signal.aborted) return reject(abortReason(signal));
        if (err instanceof ClusterseedError) return reject(err);
        const code = (err as NodeJS.ErrnoException).code;
        reject(new DiscoveryError(`${where} failed: ${code ?? (err as Error).message}`, { cause: err, hint: 'the peer is not (yet) running its management endpoint, or a firewall blocks the port' }));
      };
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new ProtocolError(`${where}: response larger than ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 401 || status === 403) {
            return reject(new AuthError(`${where}: HTTP ${status}`, { hint: 'set the same management.token (CLUSTERSEED_MANAGEMENT_TOKEN) on every node' }));
          }
          if (status !== 200) {
            return reject(new ProtocolError(`${where}: HTTP ${status}`, { hint: status === 503 ? 'the peer is still starting' : 'the port does not serve a clusterseed management endpoint' }));
          }
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            return reject(new ProtocolError(`${where}: response is not valid JSON`, { hint: 'the port does not serve a clusterseed management endpoint' }));
          }
          try {
            resolve(parseSeedNodesResponse(body, where));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.end();
    });

  return {
    probe,
    async close() {
      agent.destroy();
    },
  };
}

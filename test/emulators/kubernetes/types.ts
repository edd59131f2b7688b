/* The emulator's public types: what tests and benches drive it with (see index.ts for the behaviour). */

export interface KubernetesEmulatorOptions {
  /** bind address, default 127.0.0.1 */
  host?: string;
  /** interval of watch BOOKMARK events (allowWatchBookmarks=true), default 1000 */
  bookmarkIntervalMs?: number;
  /** default ['default'] */
  namespaces?: string[];
}

export interface PodInput {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  podIP?: string;
  nodeName?: string;
  /** true (default) → Ready condition True */
  ready?: boolean;
  containers?: { name: string; ports?: { name?: string; containerPort: number; protocol?: string }[] }[];
  containerStatuses?: {
    name: string;
    ready?: boolean;
    state?: { waiting?: { reason?: string }; running?: { startedAt?: string }; terminated?: { exitCode: number; reason?: string } };
  }[];
  deletionTimestamp?: string;
}

export interface EmulatorRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  token?: 'valid' | 'invalid' | 'none';
  /** 0 while unanswered (a hang); 200 for a watch once its stream started */
  status: number;
}

export type RequestMatch = (r: { method: string; path: string; query: Record<string, string> }) => boolean;

export interface EmulatorFaults {
  /** added before every response */
  latencyMs: number;
  /** matching requests are never answered (their sockets are destroyed on clear/close) */
  hang(match?: RequestMatch): void;
  /** matching requests get 200 with a broken JSON body (a watch: one broken event line) */
  malformed(match?: RequestMatch): void;
  /** the next `count` requests get 429 + Retry-After + Status TooManyRequests */
  throttle(count: number, retryAfterSeconds?: number): void;
  /** continue tokens issued so far → 410 Expired */
  expireContinueTokens(): void;
  /** lists/watches at an older resourceVersion → 410; open watches are ended (see index.ts) */
  compact(): void;
  /** resets latency, hangs, malformed and throttle */
  clear(): void;
}

export interface KubernetesEmulator {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly caFile: string;
  readonly serviceAccountDir: string;
  readonly tokenFile: string;
  readonly namespaceFile: string;
  readonly token: string;
  kubeconfig(opts?: { token?: string; namespace?: string }): Promise<string>;
  addPod(p: PodInput): void;
  updatePod(namespace: string, name: string, mutate: (pod: any) => void): void;
  markDeleting(namespace: string, name: string): void;
  deletePod(namespace: string, name: string): void;
  pods(namespace?: string): any[];
  lease(namespace: string, name: string): any | undefined;
  leases(namespace?: string): any[];
  rotateToken(opts?: { revokeOld?: boolean }): string;
  revokeToken(token: string): void;
  deny(rule: { verb: string; resource: 'pods' | 'leases'; namespace?: string }): void;
  allowAll(): void;
  readonly faults: EmulatorFaults;
  readonly requests: EmulatorRequest[];
  resetRequests(): void;
  close(): Promise<void>;
}

import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/** One address a peer can be reached at, exactly as peers can reach it. */
export interface ContactPoint {
  /** IP literal (IPv6 without brackets) or DNS name. */
  host: string;
  /** Known when the method knows it (SRV, bridge host port, registry entry, configured ports). */
  port?: number;
  /** instanceId, taskArn, az, tags… never secrets. */
  meta?: Readonly<Record<string, string>>;
}

export interface Lookup {
  service: string;
  portName?: string;
  protocol?: 'tcp' | 'udp';
}

export interface ResolveOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface DiscoveryProvider {
  readonly method: string;
  /** Contact points in canonical order, de-duplicated by (host, port). Empty is a valid answer. */
  resolve(lookup: Lookup, options?: ResolveOptions): Promise<ContactPoint[]>;
  /**
   * Methods that learn of changes as they happen (a Kubernetes watch) call `onChange` for each; the
   * caller then resolves again at once instead of at its next interval. Runs until `signal` aborts and
   * never throws: a broken watch costs speed, never correctness (the interval lookups go on).
   */
  watch?(lookup: Lookup, onChange: () => void, signal: AbortSignal): void;
  close(): Promise<void>;
}

export interface RegisterOptions {
  service: string;
  signal?: AbortSignal;
}

/** A live registration (ephemeral node, lease, TTL check, refreshed file) kept alive until close(). */
export interface Registration {
  readonly self: ContactPoint;
  close(): Promise<void>;
}

/** Registries (file, consul, zookeeper, etcd) can also register this node. */
export interface RegistryProvider extends DiscoveryProvider {
  register(self: ContactPoint, options: RegisterOptions): Promise<Registration>;
}

export function isRegistryProvider(p: DiscoveryProvider): p is RegistryProvider {
  return typeof (p as Partial<RegistryProvider>).register === 'function';
}

/** What a provider factory receives besides its options. */
export interface ProviderContext {
  logger: Logger;
  clock: Clock;
  /** Process environment (injectable so tests never mutate process.env). */
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Creates nested providers (used by `aggregate`). */
  createDiscovery(config: { method: string } & Record<string, unknown>): Promise<DiscoveryProvider>;
}

/** What every module in providers/ exports as `definition`. */
export interface ProviderDefinition<Options = unknown> {
  method: string;
  aliases: readonly string[];
  /** zod schema for its config block (the same one config validation uses). */
  options: { parse(input: unknown): Options };
  create(options: Options, context: ProviderContext): DiscoveryProvider | Promise<DiscoveryProvider>;
}

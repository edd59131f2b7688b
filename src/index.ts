export type {
  ContactPoint,
  Lookup,
  ResolveOptions,
  DiscoveryProvider,
  RegistryProvider,
  Registration,
  RegisterOptions,
  ProviderDefinition,
  ProviderContext,
} from './types.js';
export { isRegistryProvider } from './types.js';
export {
  ClusterseedError,
  ConfigError,
  DiscoveryError,
  ThrottledError,
  AuthError,
  TimeoutError,
  MetadataError,
  ProtocolError,
  AbortedError,
  isClusterseedError,
  describeError,
  type ErrorCode,
} from './errors.js';
export { parseHostPort, formatHostPort, compareContactPoints, canonicalize, sameContactPoint, lowestOf } from './address.js';
export { backoffDelay, retry, sleep, type BackoffPolicy, type RetryOptions } from './backoff.js';
export { systemClock, type Clock, type TimerHandle } from './clock.js';
export { silentLogger, createStreamLogger, type Logger, type LogFn, type LogLevel } from './logger.js';
export { channels } from './diagnostics.js';
export { createDiscovery, type CreateDiscoveryOptions } from './registry.js';
export { loadConfig, parseConfig, mergeConfig, type LoadConfigOptions, type PartialConfigInput } from './config/load.js';
export { parseOneLine } from './config/one-line.js';
export { Config, BootstrapSettings, ManagementSettings, SelfSettings, configJsonSchema, type ConfigInput } from './config/schema.js';
export { DiscoveryConfig, CANONICAL_METHODS, canonicalMethod } from './config/discovery.js';
export { resolveSelfAddress, type ResolveSelfAddressOptions, type SelfAddress, type SelfAddressMode } from './self-address/index.js';
export { bootstrap, startBootstrapNode, type BootstrapOptions, type BootstrapHooks, type BootstrapNode } from './bootstrap/index.js';
export type { BootstrapResult } from './bootstrap/strategy.js';
export type { SeedNodesResponse } from './bootstrap/protocol.js';

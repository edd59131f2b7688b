import diagnostics_channel from 'node:diagnostics_channel';

/**
 * Observability without hard-wired logging: subscribe with
 * `diagnostics_channel.subscribe('clusterseed:discovery', (msg) => …)`.
 */
export const channels = {
  /** { method, service, durationMs, count } or { method, service, durationMs, error } */
  discovery: diagnostics_channel.channel('clusterseed:discovery'),
  /** { target: 'host:port', durationMs, ok, seedNodes?, error? } */
  probe: diagnostics_channel.channel('clusterseed:probe'),
  /** { strategy, self, seeds, formedNewCluster, elapsedMs } or { strategy, waitingOn } */
  decision: diagnostics_channel.channel('clusterseed:decision'),
  /** A ClusterConflict (DESIGN §5.5.5): { strategy, ours, theirs, yielding } */
  conflict: diagnostics_channel.channel('clusterseed:conflict'),
} as const;

export function publish(channel: diagnostics_channel.Channel, message: unknown): void {
  if (channel.hasSubscribers) channel.publish(message);
}

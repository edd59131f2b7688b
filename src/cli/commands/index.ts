import type { Command } from '../io.js';

/** Command name → lazy import, so `clusterseed resolve` does not load the coordinator and vice versa. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  resolve: { summary: 'print the contact points discovery finds', load: async () => (await import('./resolve.js')).resolve },
  'self-address': { summary: 'print the address this node advertises (ECS metadata, IMDSv2, interface)', load: async () => (await import('./self-address.js')).selfAddress },
  config: { summary: 'print the JSON Schema, or check a config file', load: async () => (await import('./config.js')).config },
};

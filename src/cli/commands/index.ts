import type { Command } from '../io.js';

/** Command name → lazy import, so `clusterseed resolve` does not load the coordinator and vice versa. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  resolve: { summary: 'print the contact points discovery finds', load: async () => (await import('./resolve.js')).resolve },
  config: { summary: 'print the JSON Schema, or check a config file', load: async () => (await import('./config.js')).config },
};

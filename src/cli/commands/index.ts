import type { Command } from '../io.js';

/** Command name → lazy import, so `clusterseed resolve` does not load the coordinator and vice versa. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  resolve: { summary: 'print the contact points discovery finds', load: async () => (await import('./resolve.js')).resolve },
  'self-address': {
    summary: 'print the address this node advertises (ECS metadata, IMDSv2, interface)',
    load: async () => (await import('./self-address.js')).selfAddress,
  },
  bootstrap: { summary: 'run the coordinator and print the decision (then keep serving)', load: async () => (await import('./bootstrap.js')).bootstrap },
  run: { summary: 'bootstrap, then run a command with the seeds in its environment', load: async () => (await import('./run.js')).run },
  demo: { summary: 'start N local nodes and show that they agree on one cluster', load: async () => (await import('./demo.js')).demo },
  config: { summary: 'print the JSON Schema, or check a config file', load: async () => (await import('./config.js')).config },
};

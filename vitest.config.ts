import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real ZooKeeper/etcd for test/registries, started on first use (see test/servers/global-setup.ts).
    globalSetup: ['test/servers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Multi-process and real-server tests share ports and CPU with the rest: 2 cores here.
    maxWorkers: 2,
    reporters: ['default'],
  },
});

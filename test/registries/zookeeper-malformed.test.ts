import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createDiscovery } from '../../src/registry.js';

describe('zookeeper provider against a server speaking garbage', () => {
  it('ends with a typed error at the deadline, never an uncaught exception', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    // Answers every connection with bytes that parse as a ZooKeeper reply carrying an unknown error code.
    const server = net.createServer((socket) => {
      socket.on('data', () => socket.write(Buffer.from('0000001000000000000000002e8a3e05deadbeef', 'hex')));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const provider = await createDiscovery({ method: 'zookeeper', connectionString: `127.0.0.1:${port}` });
    try {
      await expect(provider.resolve({ service: 'x' }, { timeoutMs: 1500 })).rejects.toMatchObject({ code: expect.stringMatching(/^CLUSTERSEED_E_/) });
      expect(uncaught).toEqual([]);
    } finally {
      await provider.close();
      server.close();
      process.off('uncaughtException', onUncaught);
    }
  });
});

import { createRequire } from 'node:module';

/*
 * node-zookeeper-client parses server bytes inside its socket 'data' listener and throws on anything
 * it does not expect (e.g. "Unknown code: 780730373" when the port answers with another protocol).
 * A throw there is an uncaught exception that would kill the host process. We turn it into a lost
 * connection instead: the socket is destroyed, pending requests fail with CONNECTION_LOSS, the client
 * reconnects, and our calls end with a typed error at their deadline.
 */
interface ConnectionManagerProto {
  onSocketData(this: ConnectionManagerInstance, data: Buffer): void;
  __clusterseedHardened?: boolean;
}
interface ConnectionManagerInstance {
  pendingBuffer: Buffer | null;
  socket?: { destroy(): void };
}

const require = createRequire(import.meta.url);
const proto = (require('node-zookeeper-client/lib/ConnectionManager.js') as { prototype: ConnectionManagerProto }).prototype;

if (!proto.__clusterseedHardened) {
  const onSocketData = proto.onSocketData;
  proto.onSocketData = function (data) {
    try {
      onSocketData.call(this, data);
    } catch {
      this.pendingBuffer = null;
      this.socket?.destroy();
    }
  };
  proto.__clusterseedHardened = true;
}

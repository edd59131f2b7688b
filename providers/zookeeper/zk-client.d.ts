// The parts of node-zookeeper-client (untyped, CommonJS) this provider uses.
declare module 'node-zookeeper-client' {
  import { EventEmitter } from 'node:events';
  export interface Acl {
    readonly perms: number;
  }
  export interface Stat {
    version: number;
    ephemeralOwner: Buffer;
  }
  export interface ZkEvent {
    type: number;
    name: string;
    path: string;
  }
  export type Watcher = (event: ZkEvent) => void;
  export interface ZkException extends Error {
    code: number;
    getCode(): number;
    name: string;
  }
  export interface TransactionOp {
    type: number;
    path: string;
    version?: number;
  }
  export interface Transaction {
    /** The queued operations (public in the library; versions are patched here, see ZkSession.multi). */
    ops: TransactionOp[];
    check(path: string, version?: number): Transaction;
    create(path: string, data: Buffer | null, acls: Acl[], mode: number): Transaction;
    setData(path: string, data: Buffer | null, version?: number): Transaction;
    remove(path: string, version?: number): Transaction;
    commit(cb: (err: ZkException | null, results: unknown[]) => void): void;
  }
  export interface Client extends EventEmitter {
    transaction(): Transaction;
    connect(): void;
    close(): void;
    getSessionId(): Buffer;
    addAuthInfo(scheme: string, auth: Buffer): void;
    create(path: string, data: Buffer | null, acls: Acl[], mode: number, cb: (err: ZkException | null, path: string) => void): void;
    remove(path: string, version: number, cb: (err: ZkException | null) => void): void;
    setData(path: string, data: Buffer | null, version: number, cb: (err: ZkException | null, stat: Stat) => void): void;
    getData(path: string, watcher: Watcher | undefined, cb: (err: ZkException | null, data: Buffer | undefined, stat: Stat) => void): void;
    exists(path: string, watcher: Watcher | undefined, cb: (err: ZkException | null, stat: Stat | null) => void): void;
    getChildren(path: string, watcher: Watcher | undefined, cb: (err: ZkException | null, children: string[], stat: Stat) => void): void;
    mkdirp(path: string, acls: Acl[], cb: (err: ZkException | null, path: string) => void): void;
  }
  export function createClient(connectionString: string, options?: { sessionTimeout?: number; spinDelay?: number; retries?: number }): Client;
  export const CreateMode: { PERSISTENT: number; PERSISTENT_SEQUENTIAL: number; EPHEMERAL: number; EPHEMERAL_SEQUENTIAL: number };
  export const Exception: {
    NO_NODE: number;
    NODE_EXISTS: number;
    BAD_VERSION: number;
    NOT_EMPTY: number;
    CONNECTION_LOSS: number;
    SESSION_EXPIRED: number;
    NO_AUTH: number;
    AUTH_FAILED: number;
  };
  export const ACL: { OPEN_ACL_UNSAFE: Acl[]; CREATOR_ALL_ACL: Acl[] };
  const zookeeper: {
    createClient: typeof createClient;
    ACL: typeof ACL;
    CreateMode: typeof CreateMode;
    Exception: typeof Exception;
  };
  export default zookeeper;
}

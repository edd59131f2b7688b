/** Real network partitions for the fault tests: see network.ts (TestNetwork) and names.ts. */
export { TestNetwork, type NetNode } from './network.js';
export { isTestAddress, NFT_TABLE, NS_PREFIX, ROOT_LINK_PREFIX, BRIDGE_PREFIX } from './names.js';
export type { ExecResult } from './shell.js';

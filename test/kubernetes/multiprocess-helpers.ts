import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { startKubernetesEmulator, type KubernetesEmulator } from '../emulators/kubernetes/index.js';
import { FaultFleet, type FaultNode, type StartOptions } from '../faults/harness/fleet.js';
import { leaseNames } from '../../providers/kubernetes-api/lease-names.js';

/*
 * Real node processes (test/faults/harness/fault-node.mjs on the built package, so they can also stop
 * or kill themselves at a step marker) against the Kubernetes emulator. Each node is a "pod": before
 * its process starts, the test adds a Running pod whose podIP is the node's 127.0.0.x management host
 * and whose container port named "management" is its management port, as the kubelet would have
 * created the pod before starting the container. All nodes share one port number on distinct hosts.
 */

export const PORT_NAME = 'management';

export class KubeWorld {
  readonly fleet = new FaultFleet('clusterseed-k8s-mp-');
  readonly service = `mp-${randomBytes(3).toString('hex')}`;
  private constructor(
    readonly emu: KubernetesEmulator,
    readonly port: number,
  ) {}

  static async start(hosts: readonly string[]): Promise<KubeWorld> {
    const emu = await startKubernetesEmulator();
    return new KubeWorld(emu, await commonFreePort(hosts));
  }

  discovery(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      method: 'kubernetes-api',
      apiServer: this.emu.url,
      caFile: this.emu.caFile,
      tokenFile: this.emu.tokenFile,
      namespace: 'default',
      portName: PORT_NAME,
      ...extra,
    };
  }

  config(host: string, bootstrap: Record<string, unknown>, discovery: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      service: this.service,
      discovery: this.discovery(discovery),
      bootstrap: { bootstrapTimeoutMs: 90_000, ...bootstrap },
      management: { host, port: this.port },
      self: { host },
    };
  }

  podName(host: string): string {
    return `${this.service}-${host.replace(/\./g, '-')}`;
  }

  addPod(host: string): void {
    this.emu.addPod({
      name: this.podName(host),
      labels: { app: this.service },
      podIP: host,
      nodeName: 'node-1',
      ready: false,
      containers: [{ name: 'app', ports: [{ name: PORT_NAME, containerPort: this.port }] }],
    });
  }

  /** Adds the node's pod, then starts its process. */
  async startNode(
    name: string,
    host: string,
    bootstrap: Record<string, unknown>,
    options: Omit<StartOptions, 'config'> & { discovery?: Record<string, unknown> } = {},
  ): Promise<FaultNode> {
    this.addPod(host);
    const { discovery, ...rest } = options;
    return this.fleet.start(name, { ...rest, config: this.config(host, bootstrap, discovery) });
  }

  get lockLease(): any {
    return this.emu.lease('default', leaseNames(this.service).lock);
  }

  get membersLease(): any {
    return this.emu.lease('default', leaseNames(this.service).members);
  }

  /** first-seed annotation of the lock Lease as host:port (undefined: none). */
  recordedFirstSeed(): string | undefined {
    const text = this.lockLease?.metadata?.annotations?.['clusterseed.io/first-seed'];
    if (!text) return undefined;
    const fs = JSON.parse(text) as { host: string; port: number };
    return `${fs.host}:${fs.port}`;
  }

  recordedMembers(): string[] {
    const text = this.membersLease?.metadata?.annotations?.['clusterseed.io/members'];
    return text ? (JSON.parse(text) as { host: string; port: number }[]).map((m) => `${m.host}:${m.port}`) : [];
  }

  describe(): string {
    return (
      `service ${this.service}\nlock Lease: ${JSON.stringify(this.lockLease?.spec)} first-seed ${this.recordedFirstSeed()}` +
      `\nmembers: ${this.recordedMembers().join(', ')}\n${this.fleet.describe()}`
    );
  }

  async close(): Promise<void> {
    await this.fleet.cleanup();
    await this.emu.close();
  }
}

/** A port number free on every host (the nodes bind host:port; pods declare one containerPort). */
async function commonFreePort(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await Promise.all(hosts.map((h) => canBind(h, port)))).every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

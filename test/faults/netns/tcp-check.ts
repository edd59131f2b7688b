import type { NetNode, TestNetwork } from './network.js';

/*
 * Plain TCP between two namespaces, to prove what a partition does to real traffic: a one-line
 * server in one namespace and a bounded connect from another, both through `ip netns exec`.
 */

const SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
net.createServer((s) => s.end('pong')).listen(Number(port), host, () => console.log('listening'));
`;

const CLIENT = `
const net = require('node:net');
const [host, port, ms] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
const fail = (why) => { console.log(why); process.exit(1); };
s.setTimeout(Number(ms), () => fail('timeout'));
s.on('error', (e) => fail(e.code || e.message));
s.on('data', (d) => { console.log(String(d)); process.exit(0); });
`;

/** Starts a TCP server in `node`'s namespace answering "pong"; resolves once it listens. */
export async function startPongServer(net: TestNetwork, node: NetNode, port: number): Promise<void> {
  const child = net.spawnIn(node, process.execPath, ['-e', SERVER, node.address, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`pong server in ${node.ns} exited (${code}): ${err}`)));
  });
}

/** "pong" when `from` can open a TCP connection to `to`, else why not ("timeout", "ECONNREFUSED"…). */
export async function tcpConnect(net: TestNetwork, from: NetNode, to: NetNode, port: number, timeoutMs = 1500): Promise<string> {
  const r = await net.run(from, [process.execPath, '-e', CLIENT, to.address, String(port), String(timeoutMs)], { allowFail: true });
  return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
}

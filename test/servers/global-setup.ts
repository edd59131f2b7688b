import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { ensureServersInstalled } from './install.js';
import { startEtcd, startZookeeper, type RunningServer } from './processes.js';

/*
 * vitest globalSetup. It does not start ZooKeeper and etcd for every test run: it starts a tiny
 * loopback control endpoint, and the first test file that asks for the servers (getTestServers())
 * makes it install (when missing) and start them; later files share the same servers. Teardown stops
 * them and removes their temp data dirs. A failure to install or start is an error in the asking
 * test file, never a skip.
 */

declare module 'vitest' {
  interface ProvidedContext {
    testServersUrl: string;
  }
}

export interface TestServersInfo {
  zookeeper: string;
  etcd: string;
  zookeeperPid: number;
  etcdPid: number;
  installMs: number;
  zookeeperStartMs: number;
  etcdStartMs: number;
}

let starting: Promise<TestServersInfo> | undefined;
const running: RunningServer[] = [];

async function startServers(): Promise<TestServersInfo> {
  const install = await ensureServersInstalled();
  const [zk, etcd] = await Promise.all([startZookeeper(install.java, install.zookeeperJar), startEtcd(install.etcd)]);
  running.push(zk, etcd);
  process.stderr.write(
    `[test-servers] zookeeper ${zk.address} (started in ${zk.startMs} ms), etcd ${etcd.address} (started in ${etcd.startMs} ms)` +
      `${install.installed ? `, install took ${install.installMs} ms` : ''}\n`,
  );
  return {
    zookeeper: zk.address,
    etcd: etcd.address,
    zookeeperPid: zk.pid,
    etcdPid: etcd.pid,
    installMs: install.installMs,
    zookeeperStartMs: zk.startMs,
    etcdStartMs: etcd.startMs,
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/servers') {
      res.writeHead(404).end();
      return;
    }
    starting ??= startServers();
    starting.then(
      (info) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info)),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  project.provide('testServersUrl', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return async () => {
    server.close();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  };
}

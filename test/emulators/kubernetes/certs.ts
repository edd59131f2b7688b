import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { makePki } from '../../fixtures/pki.js';

/*
 * A throw-away test CA and a server certificate signed by it, made with Debian's `openssl` in the
 * emulator's temp dir at start-up (never committed). P-256 keys: fast to make and accepted by Go 1.15
 * (kubectl 1.20), Node and node-fetch alike. The server cert carries the SANs a client may dial:
 * 127.0.0.1, ::1, localhost, kubernetes.default.svc (+ the bind host when it is another address), so
 * verification is real — nobody needs an insecure-skip flag.
 */

export interface TestCertificates {
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function makeCertificates(dir: string, host: string): Promise<TestCertificates> {
  const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc'];
  const extra = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  if (!sans.includes(extra) && host !== '0.0.0.0' && host !== '::') sans.push(extra);
  const pki = await makePki('clusterseed-emulator-ca', dir);
  const server = await pki.issue('kube-apiserver', { sans, usage: 'server' });
  const [caPem, certPem, keyPem] = await Promise.all([readFile(pki.caFile, 'utf8'), readFile(server.certFile, 'utf8'), readFile(server.keyFile, 'utf8')]);
  return { caFile: pki.caFile, caPem, certPem, keyPem };
}

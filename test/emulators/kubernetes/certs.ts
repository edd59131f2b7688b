import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

/*
 * A throw-away test CA and a server certificate signed by it, made with Debian's `openssl` in the
 * emulator's temp dir at start-up (never committed). P-256 keys: fast to make and accepted by Go 1.15
 * (kubectl 1.20), Node and node-fetch alike. The server cert carries the SANs a client may dial:
 * 127.0.0.1, ::1, localhost, kubernetes.default.svc (+ the bind host when it is another address), so
 * verification is real — nobody needs an insecure-skip flag.
 */

const run = promisify(execFile);

export interface TestCertificates {
  caFile: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function makeCertificates(dir: string, host: string): Promise<TestCertificates> {
  const p = (f: string) => path.join(dir, f);
  const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc'];
  const extra = isIP(host) ? `IP:${host}` : `DNS:${host}`;
  if (!sans.includes(extra) && host !== '0.0.0.0' && host !== '::') sans.push(extra);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '3',
    '-subj',
    '/CN=clusterseed-emulator-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['req', ...ec, '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=kube-apiserver']);
  await writeFile(
    p('server.ext'),
    `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n`,
  );
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.crt'),
    '-days',
    '3',
    '-extfile',
    p('server.ext'),
  ]);
  const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')]);
  return { caFile: p('ca.crt'), caPem, certPem, keyPem };
}

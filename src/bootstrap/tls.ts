import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ManagementTlsSettings } from '../config/schema.js';
import { ConfigError } from '../errors.js';

/**
 * management.tls with its PEM files read once at start-up: the endpoint serves `cert`/`key`, the
 * prober presents them as its client certificate and verifies peers against `ca` (else the system
 * CAs). A rotated certificate takes effect on restart.
 */
export interface ManagementTls {
  cert: Buffer;
  key: Buffer;
  /** Absent: the system CAs. */
  ca?: Buffer | undefined;
  requireClientCert: boolean;
}

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function read(key: 'certFile' | 'keyFile' | 'caFile', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`management.tls.${key}: cannot read ${JSON.stringify(file)} (${code ?? (err as Error).message})`, {
      hint: 'give the path of a PEM file this process can read', cause: err,
    });
  }
}

const reason = (err: unknown) => (err as Error).message.replace(/^error:[0-9A-F]+:/, '');

/**
 * Reads and checks the files before anything binds or connects (DESIGN §3: validation before any
 * side effect). A file that is not PEM, a key that does not belong to the certificate, or (with
 * requireClientCert) a certificate that cannot serve as a client certificate is a ConfigError
 * naming the key.
 */
export function loadManagementTls(settings: ManagementTlsSettings): ManagementTls {
  const cert = read('certFile', settings.certFile);
  const key = read('keyFile', settings.keyFile);
  const ca = settings.caFile === undefined ? undefined : read('caFile', settings.caFile);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`management.tls.certFile: ${JSON.stringify(settings.certFile)} is not a PEM certificate (${reason(err)})`, { cause: err });
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`management.tls.keyFile: ${JSON.stringify(settings.keyFile)} is not a PEM private key (${reason(err)})`, {
      hint: 'an unencrypted PEM key (openssl … -nodes, or openssl pkey -in enc.key -out key.pem)', cause: err,
    });
  }
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`management.tls.keyFile: ${JSON.stringify(settings.keyFile)} is not the key of management.tls.certFile (${reason(err)})`, { cause: err });
  }
  if (ca !== undefined) {
    try {
      if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new Error('no PEM certificate in the file');
      tls.createSecureContext({ ca });
    } catch (err) {
      throw new ConfigError(`management.tls.caFile: ${JSON.stringify(settings.caFile)} is not a PEM CA bundle (${reason(err)})`, { cause: err });
    }
  }
  // The one certificate is both the server's and (in probes) the client's: with mutual TLS, peers
  // refuse a certificate whose extended key usage leaves out either role.
  const usages = leaf.keyUsage as string[] | undefined;
  if (settings.requireClientCert && usages !== undefined && !(usages.includes(SERVER_AUTH) && usages.includes(CLIENT_AUTH))) {
    throw new ConfigError(
      `management.tls.certFile: with requireClientCert the certificate must allow both serverAuth and clientAuth (extendedKeyUsage), ` +
        `and ${JSON.stringify(settings.certFile)} allows ${usages.length ? usages.map((u) => (u === SERVER_AUTH ? 'serverAuth' : u === CLIENT_AUTH ? 'clientAuth' : u)).join(', ') : 'neither'}`,
      { hint: 'issue it with extendedKeyUsage=serverAuth,clientAuth (docs/configuration.md, "TLS")' },
    );
  }
  return { cert, key, ca, requireClientCert: settings.requireClientCert };
}

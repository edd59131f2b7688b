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

type TlsKey = 'certFile' | 'keyFile' | 'caFile';
/** One problem with management.tls, by key (the message does not repeat the key). */
export interface TlsIssue {
  key: TlsKey;
  message: string;
  hint?: string;
  cause?: unknown;
}

interface Files {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
}

function readAll(settings: ManagementTlsSettings): Files | TlsIssue {
  const read = (key: TlsKey, file: string): Buffer | TlsIssue => {
    try {
      return readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return {
        key,
        message: `cannot read ${JSON.stringify(file)} (${code ?? (err as Error).message})`,
        hint: 'give the path of a PEM file this process can read',
        cause: err,
      };
    }
  };
  const cert = read('certFile', settings.certFile);
  if (!Buffer.isBuffer(cert)) return cert;
  const key = read('keyFile', settings.keyFile);
  if (!Buffer.isBuffer(key)) return key;
  const ca = settings.caFile === undefined ? undefined : read('caFile', settings.caFile);
  if (ca !== undefined && !Buffer.isBuffer(ca)) return ca;
  return { cert, key, ca };
}

const reason = (err: unknown) => (err as Error).message.replace(/^error:[0-9A-F]+:/, '');

/**
 * What start-up would refuse in the PEM files: a file that is not PEM, a key that does not belong
 * to the certificate, or (with requireClientCert) a certificate that cannot also serve as a client
 * certificate. The config schema runs it, so `config check` rejects what start-up would.
 */
export function checkManagementTls(settings: ManagementTlsSettings, files?: Files): TlsIssue[] {
  const loaded = files ?? readAll(settings);
  if (!('cert' in loaded)) return [loaded];
  const { cert, key, ca } = loaded;
  const issues: TlsIssue[] = [];
  let leaf: X509Certificate | undefined;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    issues.push({ key: 'certFile', message: `${JSON.stringify(settings.certFile)} is not a PEM certificate (${reason(err)})`, cause: err });
  }
  let keyOk = true;
  try {
    createPrivateKey(key);
  } catch (err) {
    keyOk = false;
    issues.push({
      key: 'keyFile',
      message: `${JSON.stringify(settings.keyFile)} is not a PEM private key (${reason(err)})`,
      hint: 'an unencrypted PEM key (openssl … -nodes, or openssl pkey -in enc.key -out key.pem)',
      cause: err,
    });
  }
  if (leaf && keyOk) {
    try {
      tls.createSecureContext({ cert, key });
    } catch (err) {
      issues.push({ key: 'keyFile', message: `${JSON.stringify(settings.keyFile)} is not the key of management.tls.certFile (${reason(err)})`, cause: err });
    }
  }
  if (ca !== undefined) {
    try {
      if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new Error('no PEM certificate in the file');
      tls.createSecureContext({ ca });
    } catch (err) {
      issues.push({ key: 'caFile', message: `${JSON.stringify(settings.caFile)} is not a PEM CA bundle (${reason(err)})`, cause: err });
    }
  }
  // The one certificate is both the server's and (in probes) the client's: with mutual TLS, peers
  // refuse a certificate whose extended key usage leaves out either role.
  const usages = leaf?.keyUsage as string[] | undefined;
  if (settings.requireClientCert && usages !== undefined && !(usages.includes(SERVER_AUTH) && usages.includes(CLIENT_AUTH))) {
    const named = usages.map((u) => (u === SERVER_AUTH ? 'serverAuth' : u === CLIENT_AUTH ? 'clientAuth' : u));
    issues.push({
      key: 'certFile',
      message:
        'with requireClientCert the certificate must allow both serverAuth and clientAuth (extendedKeyUsage), ' +
        `and ${JSON.stringify(settings.certFile)} allows ${named.length ? named.join(', ') : 'neither'}`,
      hint: 'issue it with extendedKeyUsage=serverAuth,clientAuth (docs/configuration.md, "TLS")',
    });
  }
  return issues;
}

/**
 * Reads the files once, before anything binds or connects (DESIGN §3: validation before any side
 * effect); a problem is a ConfigError naming the key (management.tls.certFile…).
 */
export function loadManagementTls(settings: ManagementTlsSettings): ManagementTls {
  const files = readAll(settings);
  const issue = 'cert' in files ? checkManagementTls(settings, files)[0] : files;
  if (issue) {
    throw new ConfigError(`management.tls.${issue.key}: ${issue.message}`, {
      ...(issue.hint !== undefined ? { hint: issue.hint } : {}),
      ...(issue.cause !== undefined ? { cause: issue.cause } : {}),
    });
  }
  const { cert, key, ca } = files as Files;
  return { cert, key, ca, requireClientCert: settings.requireClientCert };
}

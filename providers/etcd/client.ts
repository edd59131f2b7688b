import { Etcd3, type IOptions, type Lease } from 'etcd3';
import type { EtcdSettings } from './settings.js';

/** Bound of one unary etcd call (streams — watch, keepalive — are long-lived by design). */
export const CALL_TIMEOUT_MS = 5000;

/**
 * An etcd3 client for the resolved settings. `https://` hosts verify the server against the CA file
 * when one is given, else against the system CAs; a certificate and key present a client certificate.
 * etcd3 reads no file itself: the PEMs were read (and checked) at start-up by resolveEtcdSettings.
 */
export function createEtcdClient(settings: EtcdSettings): Etcd3 {
  const options: IOptions = {
    hosts: settings.hosts,
    dialTimeout: CALL_TIMEOUT_MS,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
  };
  if (settings.secure && (settings.ca || settings.cert)) {
    options.credentials = {
      // grpc-js createSsl(null, …) uses the system CAs; etcd3's typing wants a Buffer.
      rootCertificate: (settings.ca?.pem ?? null) as Buffer,
      ...(settings.cert && settings.key ? { certChain: settings.cert.pem, privateKey: settings.key.pem } : {}),
    };
  }
  // (secure without files: etcd3 itself creates TLS credentials with the system CAs for https:// hosts.)
  if (settings.auth) options.auth = { username: settings.auth.username, password: settings.auth.password };
  return new Etcd3(options);
}

export type { Etcd3, Lease };

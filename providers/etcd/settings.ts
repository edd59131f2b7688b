import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ReadableFile } from '../../src/config/fields.js';
import { ConfigError } from '../../src/errors.js';
import { endpointProblem, endpointScheme, tlsProblems, type EtcdOptions } from './options.js';

/*
 * What the etcd client is made from: the options, with etcdctl's own variables filling what they
 * leave out (options win, key by key; the client certificate and its key as a pair, the user and
 * password as a pair):
 *   endpoints ← ETCDCTL_ENDPOINTS (comma-separated)   caFile ← ETCDCTL_CACERT
 *   certFile + keyFile ← ETCDCTL_CERT + ETCDCTL_KEY     username + password ← ETCDCTL_USER (user:password)
 * Everything is checked here, at start-up, before any connection: a variable naming a file that
 * does not exist is a ConfigError (exit 2) like the same mistake in the config file.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Where a setting came from, for messages: `discovery.caFile` or `ETCDCTL_CACERT`. */
export interface Sourced {
  value: string;
  source: string;
}

export interface EtcdSettings {
  /** With their scheme: all `https://` or all `http://`. */
  hosts: string[];
  secure: boolean;
  ca?: Sourced & { pem: Buffer };
  cert?: Sourced & { pem: Buffer };
  key?: Sourced & { pem: Buffer };
  auth?: { username: string; password: string; source: string };
  prefix: string;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

function fromOption(value: string | undefined, key: string): Sourced | undefined {
  return value === undefined ? undefined : { value, source: `discovery.${key}` };
}

/** An env-sourced file gets the checks `ReadableFile` gives a configured one. */
function fromEnv(env: Env, name: string): Sourced | undefined {
  const value = nonEmpty(env[name]);
  if (value === undefined) return undefined;
  const checked = ReadableFile.safeParse(value);
  if (!checked.success) throw new ConfigError(`${name}: ${checked.error.issues[0]?.message ?? 'invalid file'}`, { hint: `fix or unset ${name}` });
  return { value, source: name };
}

function read(file: Sourced): Sourced & { pem: Buffer } {
  try {
    return { ...file, pem: readFileSync(file.value) };
  } catch (err) {
    throw new ConfigError(
      `${file.source}: file ${JSON.stringify(file.value)} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

export function resolveEtcdSettings(options: EtcdOptions, env: Env): EtcdSettings {
  // Endpoints.
  let endpoints: string[];
  let endpointsSource: string;
  if (options.endpoints !== undefined) {
    endpoints = options.endpoints;
    endpointsSource = 'discovery.endpoints';
  } else {
    const fromVar = nonEmpty(env.ETCDCTL_ENDPOINTS);
    if (fromVar === undefined) {
      throw new ConfigError('discovery.endpoints: required (or set ETCDCTL_ENDPOINTS)', {
        hint: 'e.g. "endpoints": ["https://10.0.0.5:2379"], or ETCDCTL_ENDPOINTS=https://10.0.0.5:2379,https://10.0.0.6:2379',
      });
    }
    endpoints = fromVar
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '');
    endpointsSource = 'ETCDCTL_ENDPOINTS';
    if (endpoints.length === 0) throw new ConfigError('ETCDCTL_ENDPOINTS: expected comma-separated endpoints such as https://10.0.0.5:2379');
    for (const e of endpoints) {
      const problem = endpointProblem(e);
      if (problem) throw new ConfigError(`ETCDCTL_ENDPOINTS: ${problem}`);
    }
  }

  // TLS files: options first, then etcdctl's variables.
  const ca = fromOption(options.caFile, 'caFile') ?? fromEnv(env, 'ETCDCTL_CACERT');
  let cert = fromOption(options.certFile, 'certFile');
  let key = fromOption(options.keyFile, 'keyFile');
  if (cert === undefined && key === undefined) {
    cert = fromEnv(env, 'ETCDCTL_CERT');
    key = fromEnv(env, 'ETCDCTL_KEY');
    if (cert !== undefined && key === undefined)
      throw new ConfigError('ETCDCTL_KEY: required when ETCDCTL_CERT is set (a client certificate is presented with its private key)');
    if (key !== undefined && cert === undefined)
      throw new ConfigError('ETCDCTL_CERT: required when ETCDCTL_KEY is set (a client certificate is presented with its private key)');
  }
  const problems = tlsProblems({ endpoints, caFile: ca?.value, certFile: cert?.value, keyFile: key?.value });
  if (problems.length > 0) {
    const p = problems[0]!;
    const where = p.path === 'endpoints' ? endpointsSource : p.path === 'caFile' ? ca!.source : cert!.source;
    throw new ConfigError(`${where}: ${p.message}`, { hint: `the endpoints come from ${endpointsSource}` });
  }
  const tls = ca !== undefined || cert !== undefined;
  const secure = tls || endpoints.some((e) => endpointScheme(e) === 'https');
  const hosts = endpoints.map((e) => (endpointScheme(e) === undefined ? `${secure ? 'https' : 'http'}://${e}` : e));

  const settings: EtcdSettings = { hosts, secure, prefix: options.prefix };
  if (ca) settings.ca = read(ca);
  if (cert && key) {
    settings.cert = read(cert);
    settings.key = read(key);
  }
  checkPem(settings);

  // User and password: never echoed in any message.
  if (options.username !== undefined && options.password !== undefined) {
    settings.auth = { username: options.username, password: options.password, source: 'discovery.username' };
  } else {
    const user = env.ETCDCTL_USER;
    if (user !== undefined && user !== '') {
      const colon = user.indexOf(':');
      if (colon <= 0 || colon === user.length - 1) {
        throw new ConfigError('ETCDCTL_USER: expected user:password (the value is not shown)', {
          hint: 'clusterseed cannot prompt for a password as etcdctl does: give both, separated by the first ":"',
        });
      }
      settings.auth = { username: user.slice(0, colon), password: user.slice(colon + 1), source: 'ETCDCTL_USER' };
    }
  }
  return settings;
}

/** Files that exist but are no PEM (or a key that does not match its certificate) fail here, not at the first call. */
function checkPem(s: EtcdSettings): void {
  // OpenSSL skips what is no certificate in a CA bundle; parse the first one ourselves.
  for (const file of [s.ca, s.cert]) {
    if (!file) continue;
    const what = file === s.ca ? 'a PEM CA certificate (bundle)' : 'a PEM certificate';
    if (!file.pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new ConfigError(`${file.source}: ${JSON.stringify(file.value)} is not ${what} (no BEGIN CERTIFICATE line)`);
    try {
      new X509Certificate(file.pem);
      if (file === s.ca) createSecureContext({ ca: file.pem });
    } catch (err) {
      throw new ConfigError(`${file.source}: ${JSON.stringify(file.value)} is not ${what} (${pemReason(err)})`);
    }
  }
  if (s.cert && s.key) {
    try {
      createSecureContext({ cert: s.cert.pem, key: s.key.pem });
    } catch (err) {
      throw new ConfigError(`${s.key.source}: ${JSON.stringify(s.key.value)} is not the PEM private key of ${s.cert.source} (${pemReason(err)})`);
    }
  }
}

/** OpenSSL's reason (`no start line`, `key values mismatch`), never the file's content. */
function pemReason(err: unknown): string {
  const e = err as { reason?: string; code?: string; message?: string };
  return e.reason ?? e.code ?? 'unreadable';
}

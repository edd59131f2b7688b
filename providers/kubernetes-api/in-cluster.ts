import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { SERVICE_ACCOUNT_DIR, type KubernetesApiOptions } from './options.js';

/*
 * Where the API server, the token, the CA and the namespace come from (DESIGN §3 kubernetes-api), as
 * client-go's rest.InClusterConfig finds them, plus the options that override each:
 * - apiServer: the option, else https:// + KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT (an IPv6
 *   host is bracketed; the port defaults to 443 when only the host is set);
 * - tokenFile, caFile, namespaceFile: the options, else the files Kubernetes mounts into every pod;
 * - namespace: the option, else KUBERNETES_NAMESPACE, else the namespace file, else "default". An
 *   unreadable namespace file is only an error when namespaceFile was configured explicitly (outside a
 *   pod the default file does not exist and "default" is the answer).
 * The token and CA files are read by createKubernetesClient, which turns a missing one into a
 * ConfigError naming the key.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface InClusterConfig {
  /** https://host:port, no trailing slash. */
  apiServer: string;
  caFile: string;
  tokenFile: string;
  namespace: string;
  /** Where the namespace came from (for the diagnostics line). */
  namespaceSource: 'option' | 'KUBERNETES_NAMESPACE' | 'file' | 'default';
}

export type InClusterOptions = Pick<KubernetesApiOptions, 'apiServer' | 'namespace' | 'tokenFile' | 'caFile' | 'namespaceFile'>;

export function resolveInClusterConfig(
  options: InClusterOptions,
  env: Env,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): InClusterConfig {
  const tokenFile = options.tokenFile ?? path.posix.join(SERVICE_ACCOUNT_DIR, 'token');
  const caFile = options.caFile ?? path.posix.join(SERVICE_ACCOUNT_DIR, 'ca.crt');
  const { namespace, namespaceSource } = resolveNamespace(options, env, readFile);
  return { apiServer: resolveApiServer(options.apiServer, env), caFile, tokenFile, namespace, namespaceSource };
}

export function resolveApiServer(option: string | undefined, env: Env): string {
  if (option !== undefined) {
    if (!/^https:\/\//i.test(option)) {
      throw new ConfigError(`discovery.apiServer: expected an https:// URL, got ${JSON.stringify(option)}`, {
        hint: 'TLS is always verified: there is no http:// mode',
      });
    }
    return option.replace(/\/+$/, '');
  }
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  if (!host) {
    throw new ConfigError('discovery.apiServer is not set and KUBERNETES_SERVICE_HOST is not in the environment (not running in a pod?)', {
      hint: 'in a pod Kubernetes sets KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT; elsewhere set discovery.apiServer to https://<api server>:<port>',
    });
  }
  const portText = env.KUBERNETES_SERVICE_PORT?.trim() || '443';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new ConfigError(`KUBERNETES_SERVICE_PORT: expected a port 1-65535, got ${JSON.stringify(portText)}`, { hint: 'or set discovery.apiServer' });
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!net.isIP(bare) && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(bare)) {
    throw new ConfigError(`KUBERNETES_SERVICE_HOST: ${JSON.stringify(host)} is not an IP address or host name`, { hint: 'or set discovery.apiServer' });
  }
  return `https://${net.isIPv6(bare) ? `[${bare}]` : bare}:${Number(portText)}`;
}

function resolveNamespace(options: InClusterOptions, env: Env, readFile: (file: string) => string): Pick<InClusterConfig, 'namespace' | 'namespaceSource'> {
  if (options.namespace !== undefined) return { namespace: options.namespace, namespaceSource: 'option' };
  const fromEnv = env.KUBERNETES_NAMESPACE?.trim();
  if (fromEnv) return { namespace: fromEnv, namespaceSource: 'KUBERNETES_NAMESPACE' };
  const file = options.namespaceFile ?? path.posix.join(SERVICE_ACCOUNT_DIR, 'namespace');
  let text: string | undefined;
  try {
    text = readFile(file).trim();
  } catch (err) {
    if (options.namespaceFile !== undefined) {
      throw new ConfigError(`discovery.namespaceFile: cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: "point it at the pod's namespace file, or set discovery.namespace",
      });
    }
  }
  if (text) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(text) || text.length > 63) {
      throw new ConfigError(
        `${options.namespaceFile !== undefined ? 'discovery.namespaceFile' : file}: ${JSON.stringify(text.slice(0, 80))} is not a namespace name`,
        { hint: 'or set discovery.namespace' },
      );
    }
    return { namespace: text, namespaceSource: 'file' };
  }
  return { namespace: 'default', namespaceSource: 'default' };
}

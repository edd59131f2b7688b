import { formatHostPort } from '../address.js';
import type { BootstrapResult } from '../bootstrap/strategy.js';
import type { ContactPoint } from '../types.js';
import { formatHocon, formatJavaOpts, type JvmSeedOptions } from './jvm-format.js';

/** Output formats of `clusterseed bootstrap` (DESIGN §4); hocon and java-opts need `jvm` options. */
export type ResultFormat = 'json' | 'env' | 'hocon' | 'java-opts';
export const RESULT_FORMATS: readonly ResultFormat[] = ['json', 'env', 'hocon', 'java-opts'];

export interface FormatOptions {
  /** The self address was resolved (not configured): HOST_IP / HOST_PORT are provided too. */
  selfResolved?: boolean;
  /** ActorSystem name, protocol and remoting port for hocon / java-opts (see jvm-format.ts). */
  jvm?: JvmSeedOptions;
}

const point = (p: ContactPoint) => (p.port === undefined ? { host: p.host } : { host: p.host, port: p.port });

/** The result as one JSON object, contact points as {host, port} (meta stays local). */
export function resultJson(result: BootstrapResult): Record<string, unknown> {
  return {
    self: point(result.self),
    seeds: result.seeds.map(point),
    formedNewCluster: result.formedNewCluster,
    strategy: result.strategy,
    elapsedMs: Math.round(result.elapsedMs),
  };
}

/** The variables `bootstrap --format env` prints and `run` puts in the child's environment. */
export function resultEnv(result: BootstrapResult, options: FormatOptions = {}): Record<string, string> {
  const env: Record<string, string> = {
    CLUSTERSEED_SEEDS: result.seeds.map((s) => formatHostPort(s)).join(','),
    CLUSTERSEED_SELF: formatHostPort(result.self),
    CLUSTERSEED_FORMED_NEW_CLUSTER: String(result.formedNewCluster),
  };
  if (options.selfResolved) {
    env.HOST_IP = result.self.host;
    if (result.self.port !== undefined) env.HOST_PORT = String(result.self.port);
  }
  return env;
}

/** Values are quoted only when a shell would need it, so the output also works as a Docker env-file. */
function shellValue(v: string): string {
  return /^[A-Za-z0-9_.,:/@[\]+-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export function formatResult(result: BootstrapResult, format: ResultFormat, options: FormatOptions = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(resultJson(result))}\n`;
    case 'env':
      return Object.entries(resultEnv(result, options))
        .map(([k, v]) => `${k}=${shellValue(v)}\n`)
        .join('');
    case 'hocon':
    case 'java-opts': {
      if (!options.jvm) throw new Error(`formatResult: --format ${format} needs the jvm options`);
      return format === 'hocon' ? formatHocon(result.seeds, options.jvm) : formatJavaOpts(result.seeds, options.jvm);
    }
  }
}

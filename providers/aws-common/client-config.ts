import { ConfigError } from '../../src/errors.js';

/*
 * Client construction shared by the EC2 and ECS providers. It reads the injected environment
 * (ProviderContext.env) instead of process.env, so the same rules apply whoever calls us:
 * region from the option, then AWS_REGION / AWS_DEFAULT_REGION; endpoint from the option, then the
 * service-specific AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL (the SDK's own precedence).
 * This module imports no AWS client, so each provider loads only the SDK it needs.
 */

export type AwsService = 'ec2' | 'ecs';
type Env = Readonly<Record<string, string | undefined>>;

export interface AwsConnectionOptions {
  region?: string | undefined;
  endpoint?: string | undefined;
}

export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Our own throttling-aware retry (awsCall) is the only retry, so API calls are counted exactly. */
  maxAttempts: number;
}

const ENDPOINT_VARIABLE: Record<AwsService, string> = { ec2: 'AWS_ENDPOINT_URL_EC2', ecs: 'AWS_ENDPOINT_URL_ECS' };

export function resolveRegion(options: AwsConnectionOptions, env: Env): string | undefined {
  return nonEmpty(options.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
}

export function resolveEndpoint(service: AwsService, options: AwsConnectionOptions, env: Env): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true' && !options.endpoint) return undefined;
  const endpoint = nonEmpty(options.endpoint) ?? nonEmpty(env[ENDPOINT_VARIABLE[service]]) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint === undefined) return undefined;
  try {
    new URL(endpoint);
  } catch {
    throw new ConfigError(`discovery.endpoint: expected a URL such as http://127.0.0.1:4566, got "${endpoint}"`, {
      hint: `check the endpoint option and ${ENDPOINT_VARIABLE[service]} / AWS_ENDPOINT_URL`,
    });
  }
  return endpoint;
}

/**
 * The config object for `new EC2Client(...)` / `new ECSClient(...)`. Static credentials are taken
 * from the injected environment when it carries them; otherwise the SDK's default provider chain
 * (profile, SSO, web identity, ECS task role, EC2 instance role) finds them.
 */
export function awsClientConfig(service: AwsService, options: AwsConnectionOptions, env: Env): AwsClientConfig {
  const config: AwsClientConfig = { maxAttempts: 1 };
  const region = resolveRegion(options, env);
  if (region !== undefined) config.region = region;
  const endpoint = resolveEndpoint(service, options, env);
  if (endpoint !== undefined) config.endpoint = endpoint;
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId && secretAccessKey) {
    const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
    config.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  }
  return config;
}

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

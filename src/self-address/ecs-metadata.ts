import { z } from 'zod';
import { abortReason } from '../backoff.js';
import { ClusterseedError, MetadataError, ProtocolError } from '../errors.js';
import { withDeadline } from '../signal.js';

/*
 * A client of the ECS task metadata endpoint v4 (`${ECS_CONTAINER_METADATA_URI_V4}`): the container's
 * own metadata at the URI itself and the task's at `<uri>/task`. Only the fields clusterseed uses are
 * validated; everything else the agent sends is ignored, so newer agents keep working.
 */

export const ECS_METADATA_ENV = 'ECS_CONTAINER_METADATA_URI_V4';

const PortMapping = z.object({
  ContainerPort: z.number().int().min(1).max(65535),
  /** Absent while the container starts and for awsvpc tasks on older agents. */
  HostPort: z.number().int().min(0).max(65535).optional(),
  Protocol: z.string().optional(),
  /** "0.0.0.0" or "::" since agent 1.59; older agents omit it. */
  HostIp: z.string().optional(),
});

const Network = z.object({
  NetworkMode: z.string(),
  IPv4Addresses: z.array(z.string()).optional(),
  IPv6Addresses: z.array(z.string()).optional(),
});

export const ContainerMetadata = z.object({
  Name: z.string(),
  DockerId: z.string().optional(),
  ContainerARN: z.string().optional(),
  Networks: z.array(Network).optional(),
  Ports: z.array(PortMapping).optional(),
});
export type ContainerMetadata = z.output<typeof ContainerMetadata>;

export const TaskMetadata = z.object({
  /** The cluster's name on EC2, its full ARN on Fargate. */
  Cluster: z.string().min(1),
  TaskARN: z.string().min(1),
  Family: z.string().optional(),
  AvailabilityZone: z.string().optional(),
  LaunchType: z.string().optional(),
  ServiceName: z.string().optional(),
  Containers: z.array(ContainerMetadata).optional(),
});
export type TaskMetadata = z.output<typeof TaskMetadata>;

export interface EcsMetadataOptions {
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
  /** Bound of each request [2000 ms]. */
  timeoutMs?: number;
}

/** The metadata base URI from the environment, or a MetadataError saying it is not set. */
export function ecsMetadataUri(env: Readonly<Record<string, string | undefined>>): string {
  const uri = env[ECS_METADATA_ENV];
  if (!uri) {
    throw new MetadataError(`${ECS_METADATA_ENV} is not set: this process does not run in an ECS task (or the agent is older than 1.39.0)`, {
      retriable: false,
      hint: 'run inside an ECS task (Fargate platform 1.4.0+ or EC2 agent 1.39.0+), or choose another self-address mode / discovery method',
    });
  }
  try {
    new URL(uri);
  } catch {
    throw new MetadataError(`${ECS_METADATA_ENV} is not a URL: ${JSON.stringify(uri)}`, {
      retriable: false,
      hint: 'it is set by the ECS agent; do not override it',
    });
  }
  return uri.replace(/\/+$/, '');
}

/** GET `${ECS_CONTAINER_METADATA_URI_V4}`: this container. */
export async function fetchContainerMetadata(options: EcsMetadataOptions): Promise<ContainerMetadata> {
  const uri = ecsMetadataUri(options.env);
  return getJson(uri, 'container metadata', ContainerMetadata, options);
}

/** GET `${ECS_CONTAINER_METADATA_URI_V4}/task`: this task and all its containers. */
export async function fetchTaskMetadata(options: EcsMetadataOptions): Promise<TaskMetadata> {
  const uri = ecsMetadataUri(options.env);
  return getJson(`${uri}/task`, 'task metadata', TaskMetadata, options);
}

async function getJson<S extends z.ZodType>(url: string, what: string, schema: S, options: EcsMetadataOptions): Promise<z.output<S>> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const deadline = withDeadline(`ECS ${what} request (${url})`, timeoutMs, options.signal);
  let text: string;
  let status: number;
  try {
    const response = await fetch(url, { signal: deadline.signal, headers: { accept: 'application/json' } });
    status = response.status;
    text = await response.text();
  } catch (err) {
    // The caller's own deadline or abort wins; only our per-request timeout means "did not answer".
    if (options.signal?.aborted) throw abortReason(options.signal);
    if (deadline.signal.aborted) {
      throw new MetadataError(`ECS ${what} endpoint ${url} did not answer within ${timeoutMs} ms`, {
        cause: abortReason(deadline.signal),
        hint: 'the ECS agent serves it inside the task; check that the task runs on Fargate 1.4.0+ or agent 1.39.0+',
      });
    }
    throw new MetadataError(`ECS ${what} endpoint ${url} is unreachable (${describeCause(err)})`, {
      cause: err,
      hint: `${ECS_METADATA_ENV} is set by the ECS agent; the endpoint is only reachable from inside the task`,
    });
  } finally {
    deadline.dispose();
  }
  if (status !== 200) {
    throw new MetadataError(`ECS ${what} endpoint ${url} answered HTTP ${status}`, {
      retriable: status >= 500 || status === 429,
      hint: 'the agent may still be starting the task; retry, or check the agent log on the container instance',
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError(`ECS ${what}: the response is not JSON (${text.length} bytes starting ${JSON.stringify(text.slice(0, 40))})`, {
      cause: err,
      hint: 'the endpoint must be the ECS task metadata endpoint v4',
    });
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    throw new ProtocolError(`ECS ${what}: field ${field} is malformed (${issue.message})`, {
      hint: 'the endpoint must be the ECS task metadata endpoint v4',
    });
  }
  return parsed.data as z.output<S>;
}

function describeCause(err: unknown): string {
  if (err instanceof ClusterseedError) return err.message;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  return err instanceof Error ? err.message : String(err);
}

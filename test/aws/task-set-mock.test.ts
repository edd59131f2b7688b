/* aws-ecs-task-set with the ECS API mocked (aws-sdk-client-mock) and the metadata endpoint emulated. */
import { DescribeTasksCommand, ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { definition, type EcsTaskSetProvider } from '../../providers/aws-ecs-task-set/index.js';
import { EcsTaskSetOptions } from '../../providers/aws-ecs-task-set/options.js';
import { ConfigError, ProtocolError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { systemClock } from '../../src/clock.js';
import { TaskMetadataHandler } from '../emulators/aws/task-metadata.js';
import { useAwsEmulator } from './emulator-helpers.js';

const OWN = 'arn:aws:ecs:us-east-1:123456789012:task/prod/00000000000000000000000000000abc';
const ecsMock = mockClient(ECSClient);
const aws = useAwsEmulator(() => new TaskMetadataHandler());
let uri: string;

beforeEach(() => {
  ecsMock.reset();
  uri = `${aws.emulator.url}${aws.handler.setTask({ cluster: 'prod', taskArn: OWN, networkMode: 'awsvpc', containers: [{ name: 'app', ipv4: '10.0.0.3' }] })}`;
});

const provider = (options: Record<string, unknown> = {}) =>
  definition.create(EcsTaskSetOptions.parse({ method: 'aws-ecs-task-set', ...options }), {
    logger: silentLogger,
    clock: systemClock,
    env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's', ECS_CONTAINER_METADATA_URI_V4: uri },
    createDiscovery: () => Promise.reject(new Error('unused')),
  }) as EcsTaskSetProvider;

const eni = (arn: string, ip: string) => ({
  taskArn: arn,
  lastStatus: 'RUNNING',
  attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: ip }] }],
});

describe('aws-ecs-task-set (mocked ECS)', () => {
  it('describes its own task, then lists by its startedBy', async () => {
    ecsMock.on(DescribeTasksCommand, { tasks: [OWN] }).resolves({ tasks: [{ ...eni(OWN, '10.0.0.3'), startedBy: 'ecs-svc/42' }] });
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [OWN, 'arn:aws:ecs:us-east-1:123456789012:task/prod/def'] });
    ecsMock.on(DescribeTasksCommand, { tasks: [OWN, 'arn:aws:ecs:us-east-1:123456789012:task/prod/def'] }).resolves({
      tasks: [eni(OWN, '10.0.0.3'), eni('arn:aws:ecs:us-east-1:123456789012:task/prod/def', '10.0.0.4')],
    });
    const p = provider();
    expect((await p.resolve({ service: 'x' })).map((c) => c.host)).toEqual(['10.0.0.3', '10.0.0.4']);
    expect(ecsMock.commandCalls(ListTasksCommand)[0]!.args[0].input).toEqual({
      cluster: 'prod',
      startedBy: 'ecs-svc/42',
      desiredStatus: 'RUNNING',
      maxResults: 100,
    });
    expect(ecsMock.commandCalls(DescribeTasksCommand)[0]!.args[0].input).toEqual({ cluster: 'prod', tasks: [OWN] });
  });

  it('the own task missing from DescribeTasks is a ProtocolError; no startedBy is a ConfigError', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [], failures: [{ arn: OWN, reason: 'MISSING' }] });
    await expect(provider().resolve({ service: 'x' })).rejects.toBeInstanceOf(ProtocolError);
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [eni(OWN, '10.0.0.3')] });
    await expect(provider().resolve({ service: 'x' })).rejects.toBeInstanceOf(ConfigError);
    expect(ecsMock.commandCalls(ListTasksCommand)).toHaveLength(0);
  });

  it('a failed own-task lookup is retried by the next resolve (nothing cached on failure)', async () => {
    ecsMock
      .on(DescribeTasksCommand)
      .rejectsOnce(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } }))
      .resolves({ tasks: [{ ...eni(OWN, '10.0.0.3'), startedBy: 'ecs-svc/42' }] });
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [OWN] });
    const p = provider();
    await expect(p.resolve({ service: 'x' })).rejects.toMatchObject({ code: 'CLUSTERSEED_E_AUTH' });
    expect(await p.resolve({ service: 'x' })).toEqual([expect.objectContaining({ host: '10.0.0.3' })]);
    expect(aws.emulator.calls('task-metadata:GET /task')).toBeGreaterThanOrEqual(2);
  });
});

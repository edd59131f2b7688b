/* Shared set-up of the ECS tests: one emulator with ECS, EC2, IMDS and task-metadata handlers. */
import { Ec2Handler, type Ec2Instance } from '../emulators/aws/ec2.js';
import { EcsHandler, EcsState } from '../emulators/aws/ecs.js';
import { ImdsHandler } from '../emulators/aws/imds.js';
import { AwsEmulator } from '../emulators/aws/server.js';
import { TaskMetadataHandler } from '../emulators/aws/task-metadata.js';

export interface EcsWorld {
  emulator: AwsEmulator;
  ecs: EcsHandler;
  ec2: Ec2Handler;
  imds: ImdsHandler;
  metadata: TaskMetadataHandler;
  /** The environment a process in this world sees (fake static credentials, endpoints). */
  env(extra?: Record<string, string | undefined>): Record<string, string | undefined>;
}

export async function startEcsWorld(state: EcsState = new EcsState()): Promise<EcsWorld> {
  const ecs = new EcsHandler(state);
  const ec2 = new Ec2Handler();
  const imds = new ImdsHandler();
  const metadata = new TaskMetadataHandler();
  const emulator = await AwsEmulator.start([ecs, ec2, imds, metadata]);
  return {
    emulator,
    ecs,
    ec2,
    imds,
    metadata,
    env: (extra = {}) => ({
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEFAKE',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-for-the-emulator',
      AWS_ENDPOINT_URL_ECS: emulator.url,
      AWS_ENDPOINT_URL_EC2: emulator.url,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: emulator.url,
      ...extra,
    }),
  };
}

/** `count` awsvpc tasks of `service` with IPs 10.<base>.x.y; every 4th tagged side=blue, others side=green. */
export function addAwsvpcFleet(state: EcsState, cluster: string, service: string, count: number, base = 1): string[] {
  const ips: string[] = [];
  for (let n = 0; n < count; n++) {
    const ip = `10.${base}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    ips.push(ip);
    state.addAwsvpcTask({
      cluster,
      service,
      ip,
      tags: [
        { key: 'side', value: n % 4 === 0 ? 'blue' : 'green' },
        { key: 'env', value: 'prod' },
      ],
    });
  }
  return ips;
}

/** An EC2 instance for a container instance (the fields the ECS bridge lookup reads). */
export function hostInstance(instanceId: string, privateIpAddress: string): Ec2Instance {
  return {
    instanceId,
    state: 'running',
    instanceType: 'm5.large',
    availabilityZone: 'us-east-1a',
    privateIpAddress,
    tags: {},
    reservationId: `r-${instanceId.slice(2)}`,
  };
}

/* Shared set-up of the AWS tests that run one emulator for a whole file. */
import net from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ImdsHandler } from '../emulators/aws/imds.js';
import { AwsEmulator, type EmulatorHandler } from '../emulators/aws/server.js';

export interface EmulatedAws<H> {
  readonly emulator: AwsEmulator;
  readonly handler: H;
}

/**
 * Starts one emulator serving `makeHandler()` before the file's tests and closes it after; before
 * each test it forgets calls and faults and lets `reset` put the handler's state back.
 */
export function useAwsEmulator<H extends EmulatorHandler>(makeHandler: () => H, reset: (handler: H) => void = () => {}): EmulatedAws<H> {
  const aws = {} as { emulator: AwsEmulator; handler: H };
  beforeAll(async () => {
    aws.handler = makeHandler();
    aws.emulator = await AwsEmulator.start([aws.handler]);
  });
  afterAll(() => aws.emulator?.close());
  beforeEach(() => {
    aws.emulator.resetCalls();
    aws.emulator.clearFaults();
    reset(aws.handler);
  });
  return aws;
}

/** An emulated IMDSv2 (tokens required, reachable, enabled before each test) and the env that points at it. */
export function useImdsEmulator(): EmulatedAws<ImdsHandler> & { env(): Record<string, string> } {
  const aws = useAwsEmulator(
    () => new ImdsHandler(),
    (imds) => {
      Object.assign(imds.state, { httpTokens: 'required', hopLimitExceeded: false, disabled: false });
    },
  );
  return {
    get emulator() {
      return aws.emulator;
    },
    get handler() {
      return aws.handler;
    },
    env: () => ({ AWS_EC2_METADATA_SERVICE_ENDPOINT: aws.emulator.url }),
  };
}

/** A loopback port nobody listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

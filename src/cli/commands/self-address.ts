import { oneOf, parseFlags, parseMs, UsageError, type CliIO } from '../io.js';
import { resolveSelfAddress, SELF_ADDRESS_MODES } from '../../self-address/index.js';

const USAGE =
  'clusterseed self-address [--mode auto|ecs|kubernetes|ec2|interface] [--container-port P] ' +
  '[--interface NAME|CIDR] [--allow-imds-v1] [--timeout MS] [--format env|json]';

/** Prints the address this node should advertise (DESIGN §5.4), for container entrypoints. */
export async function selfAddress(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    args,
    {
      mode: { type: 'string' },
      'container-port': { type: 'string' },
      interface: { type: 'string' },
      'allow-imds-v1': { type: 'boolean' },
      timeout: { type: 'string' },
      format: { type: 'string' },
    },
    USAGE,
  );
  const mode = oneOf(values.mode, SELF_ADDRESS_MODES, 'mode', 'auto');
  const format = oneOf(values.format, ['env', 'json'] as const, 'format', 'env');
  const timeoutMs = parseMs(values.timeout, 'timeout');
  let containerPort: number | undefined;
  if (values['container-port'] !== undefined) {
    containerPort = Number(values['container-port']);
    if (!/^\d+$/.test(values['container-port']) || containerPort < 1 || containerPort > 65535) {
      throw new UsageError(`--container-port: expected integer 1-65535, got "${values['container-port']}"`, { hint: 'e.g. --container-port 7626' });
    }
  }
  const self = await resolveSelfAddress({
    mode,
    env: io.env,
    signal: io.signal,
    ...(containerPort !== undefined ? { containerPort } : {}),
    ...(values.interface !== undefined ? { interface: values.interface } : {}),
    ...(values['allow-imds-v1'] ? { allowImdsV1: true } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  if (format === 'json') {
    io.stdout.write(`${JSON.stringify({ host: self.host, ...(self.port !== undefined ? { port: self.port } : {}), source: self.source })}\n`);
  } else {
    io.stdout.write(`HOST_IP=${self.host}\n${self.port !== undefined ? `HOST_PORT=${self.port}\n` : ''}`);
  }
  return 0;
}

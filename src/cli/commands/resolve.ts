import { formatHostPort } from '../../address.js';
import { createDiscovery } from '../../registry.js';
import type { ContactPoint } from '../../types.js';
import { configFlags, loadCliConfig, oneOf, parseFlags, parseMs, type CliIO } from '../io.js';

const USAGE = 'clusterseed resolve [--config F] [--service S] [--discovery "method=…"] [--format json|table|lines] [--timeout MS]';

export async function resolve(args: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(args, { ...configFlags, format: { type: 'string' } }, USAGE);
  const format = oneOf(values.format, ['json', 'table', 'lines'] as const, 'format', 'json');
  const timeoutMs = parseMs(values.timeout, 'timeout');
  const config = await loadCliConfig(values, io);
  const provider = await createDiscovery(config.discovery, { logger: io.logger, env: io.env });
  try {
    const points = await provider.resolve({ service: config.service }, { signal: io.signal, timeoutMs: timeoutMs ?? config.bootstrap.resolveTimeoutMs });
    io.stdout.write(render(format, config.service, provider.method, points));
    return 0;
  } finally {
    await provider.close();
  }
}

function render(format: 'json' | 'table' | 'lines', service: string, method: string, points: ContactPoint[]): string {
  if (format === 'json') return `${JSON.stringify({ service, method, contactPoints: points })}\n`;
  if (format === 'lines') return points.map((p) => `${formatHostPort(p)}\n`).join('');
  return `${table(
    ['HOST', 'PORT', 'META'],
    points.map((p) => [
      p.host,
      p.port === undefined ? '-' : String(p.port),
      p.meta
        ? Object.entries(p.meta)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : '',
    ]),
  )}${points.length} contact point(s) for "${service}" via ${method}\n`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}

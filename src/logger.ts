/** pino-compatible: `logger.info({ key: value }, 'message')` or `logger.info('message')`. */
export type LogFn = (objOrMsg: unknown, msg?: string) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** Keys whose values are never written anywhere (tokens, passwords, ACLs, AWS credentials). */
const SECRET_KEY = /(token|password|secret|credential|authorization|acl|sessiontoken|accesskey)/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** The CLI's logger: one line per event on a stream (stderr), secrets redacted. */
export function createStreamLogger(stream: { write(s: string): unknown }, options: { level?: LogLevel; prefix?: string } = {}): Logger {
  const min = LEVELS.indexOf(options.level ?? 'info');
  const prefix = options.prefix ?? 'clusterseed';
  const make = (level: LogLevel): LogFn => {
    if (LEVELS.indexOf(level) < min) return noop;
    return (objOrMsg, msg) => {
      let text: string;
      if (typeof objOrMsg === 'string') text = objOrMsg;
      else {
        const fields = JSON.stringify(redact(objOrMsg));
        text = msg ? `${msg} ${fields}` : fields;
      }
      stream.write(`${prefix} ${level}: ${text}\n`);
    };
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}

import { z } from 'zod';
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import { parseHostPort } from '../address.js';

/** Shared field schemas, so every key of the same kind validates and reports the same way. */

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export const Port = z
  .number({ error: (iss) => `expected integer 1-65535, got ${show(iss.input)}` })
  .int({ error: (iss) => `expected integer 1-65535, got ${show(iss.input)}` })
  .min(1, { error: (iss) => `expected integer 1-65535, got ${show(iss.input)}` })
  .max(65535, { error: (iss) => `expected integer 1-65535, got ${show(iss.input)}` });

/** Port 0 means "any free port" where a socket is bound. */
export const BindPort = z
  .number({ error: (iss) => `expected integer 0-65535, got ${show(iss.input)}` })
  .int({ error: (iss) => `expected integer 0-65535, got ${show(iss.input)}` })
  .min(0, { error: (iss) => `expected integer 0-65535, got ${show(iss.input)}` })
  .max(65535, { error: (iss) => `expected integer 0-65535, got ${show(iss.input)}` });

export function intRange(min: number, max: number, unit = '') {
  const msg = (iss: { input?: unknown }) => `expected integer ${min}-${max === Number.MAX_SAFE_INTEGER ? '…' : max}${unit}, got ${show(iss.input)}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

/** Milliseconds: a non-negative integer. */
export const Millis = intRange(0, 86_400_000, ' ms');
export const PositiveMillis = intRange(1, 86_400_000, ' ms');

export const Bool = z.boolean({ error: (iss) => `expected true or false, got ${show(iss.input)}` });

export const NonEmptyString = z.string({ error: (iss) => `expected a string, got ${show(iss.input)}` }).min(1, { error: 'must not be empty' });

/** `host`, `host:port`, `[v6]:port`. */
export const HostPortString = z.string({ error: (iss) => `expected "host" or "host:port", got ${show(iss.input)}` }).superRefine((value, ctx) => {
  try {
    parseHostPort(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid address ${(err as Error).message}` });
  }
});

/**
 * `IP`, `IP:port`, `[v6]:port`: an address that needs no lookup (DNS nameservers: resolving the
 * resolver would need a resolver).
 */
export const IpPortString = z.string({ error: (iss) => `expected "IP" or "IP:port", got ${show(iss.input)}` }).superRefine((value, ctx) => {
  let host: string;
  try {
    host = parseHostPort(value).host;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid address ${(err as Error).message}` });
    return;
  }
  if (net.isIP(host) === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `${show(value)} is not an IP address (a host name would need a resolver to find the resolver)`,
      params: { hint: 'give IP[:port], e.g. 10.0.0.2 or 127.0.0.1:8600' },
    });
  }
});

export const Url = z.string().refine(
  (v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  },
  { error: (iss) => `expected a URL such as http://127.0.0.1:4566, got ${show(iss.input)}` },
);

export const KeyValue = z.strictObject({ key: NonEmptyString, value: z.string() });

/**
 * A file the process must read at start-up (TLS certificates and keys, CA bundles): it must exist
 * and be readable when the config is checked, so `config check` rejects what start-up would.
 */
export const ReadableFile = NonEmptyString.superRefine((file, ctx) => {
  try {
    accessSync(file, constants.R_OK);
    if (!statSync(file).isFile()) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(file)} is not a regular file` });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    ctx.addIssue({
      code: 'custom',
      message:
        code === 'ENOENT' ? `file ${JSON.stringify(file)} does not exist` : `file ${JSON.stringify(file)} cannot be read (${code ?? (err as Error).message})`,
    });
  }
});

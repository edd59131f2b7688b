import type { z } from 'zod';
import { formatPath } from './config/issues.js';
import { ProtocolError } from './errors.js';

/** `items[0].status.podIP`, or `(body)` for the whole response. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(body)' : formatPath(path);
}

/**
 * A backend's response checked against its schema (DESIGN §6): a mismatch is a ProtocolError that
 * names the field, never a crash and never a wrong contact point.
 */
export function checkWireShape<S extends z.ZodType>(schema: S, body: unknown, what: string, hint: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new ProtocolError(`${what}: unexpected response: ${fieldPath(issue.path)}: ${issue.message}`, { hint });
}

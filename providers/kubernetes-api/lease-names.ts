import { createHash } from 'node:crypto';

/*
 * Names of the two Lease objects of a service: `clusterseed-<service>-lock` (the lock and the
 * first-seed record) and `clusterseed-<service>-members`.
 *
 * A Lease's metadata.name must be a DNS-1123 subdomain; we keep to the stricter label rules
 * (lower-case a-z, 0-9 and '-', starting and ending alphanumeric, at most 63 characters) so the names
 * are also valid label values and fit every tool that shows them. A service name is sanitised
 * (lower-cased, every other character → '-', runs of '-' collapsed, ends trimmed); when that changed
 * anything, or the name had to be truncated, an 8-hex-digit hash of the original service name is
 * appended: "My_Service" and "my-service" would otherwise share one lock and one record.
 */

/** Kubernetes' limit for a DNS-1123 label. */
export const MAX_NAME_LENGTH = 63;
const PREFIX = 'clusterseed-';
/** The longer of the two suffixes: both names keep the same service part. */
const SUFFIXES = { lock: '-lock', members: '-members' } as const;
const LONGEST_SUFFIX = SUFFIXES.members.length;
const HASH_LENGTH = 8;

export interface LeaseNames {
  lock: string;
  members: string;
}

export function leaseNames(service: string): LeaseNames {
  const part = servicePart(service);
  return { lock: `${PREFIX}${part}${SUFFIXES.lock}`, members: `${PREFIX}${part}${SUFFIXES.members}` };
}

/** The `<service>` part: sanitised, with `-<hash>` when sanitising or truncating changed it. */
export function servicePart(service: string): string {
  const room = MAX_NAME_LENGTH - PREFIX.length - LONGEST_SUFFIX;
  const sanitised = service
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (sanitised === service && sanitised.length <= room) return sanitised;
  const hash = createHash('sha256').update(service, 'utf8').digest('hex').slice(0, HASH_LENGTH);
  // Room for "-<hash>"; the truncated part must not end in '-' (it is followed by one).
  const kept = sanitised.slice(0, room - HASH_LENGTH - 1).replace(/-+$/, '');
  return kept === '' ? hash : `${kept}-${hash}`;
}

/** DNS-1123 label rules (what the API server would check). */
export function isDns1123Label(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}

import { z } from 'zod';
import { canonicalize } from '../../src/address.js';
import { decodeFirstSeed, decodePoint, encodePoint } from '../../src/lock/codec.js';
import type { FirstSeed } from '../../src/lock/seed-lock.js';
import { ProtocolError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ContactPoint } from '../../src/types.js';

/*
 * The wire form of coordination.k8s.io/v1 Lease objects and what clusterseed keeps in them.
 *
 *   clusterseed-<service>-lock      spec.holderIdentity etc.: the lock (client-go's Lease lock fields);
 *                                   annotation clusterseed.io/first-seed: the first-seed record
 *                                   (src/lock/codec.ts encodeFirstSeed JSON), absent when none.
 *   clusterseed-<service>-members   annotation clusterseed.io/members: a JSON array of {"host","port"}.
 *
 * Both carry the label app.kubernetes.io/managed-by=clusterseed and the annotation
 * clusterseed.io/service with the unsanitised service name (Lease names are sanitised, lease-names.ts).
 * Objects are round-tripped: a PUT sends back what was read (unknown fields included) with our fields
 * changed, so nothing another controller added is dropped.
 */

export const FIRST_SEED_ANNOTATION = 'clusterseed.io/first-seed';
export const MEMBERS_ANNOTATION = 'clusterseed.io/members';
export const SERVICE_ANNOTATION = 'clusterseed.io/service';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** The fields we read; everything else is kept as it came (looseObject). */
export const LeaseWire = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    resourceVersion: z.string().min(1),
    annotations: z.record(z.string(), z.string()).nullish(),
    labels: z.record(z.string(), z.string()).nullish(),
  }),
  spec: z
    .looseObject({
      holderIdentity: z.string().nullish(),
      leaseDurationSeconds: z.number().int().nullish(),
      acquireTime: z.string().nullish(),
      renewTime: z.string().nullish(),
      leaseTransitions: z.number().int().nullish(),
    })
    .nullish(),
});
export type LeaseWire = z.output<typeof LeaseWire>;

export interface LeaseSpec {
  holderIdentity?: string | undefined;
  leaseDurationSeconds?: number | undefined;
  acquireTime?: string | undefined;
  renewTime?: string | undefined;
  leaseTransitions?: number | undefined;
}

/** Parses a Lease body; anything else is a ProtocolError naming the Lease and the field. */
export function parseLease(body: unknown, name: string): LeaseWire {
  const parsed = LeaseWire.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue ? issue.path.join('.') || '(body)' : '(body)';
  throw new ProtocolError(`kubernetes: Lease ${name}: unexpected ${field} (${issue?.message ?? 'not a Lease'})`, {
    hint: 'the API server (or a proxy in front of it) answered with something that is not a coordination.k8s.io/v1 Lease',
  });
}

/** The holder, '' when free (absent and empty both mean free, as in client-go). */
export function holderOf(lease: LeaseWire): string {
  return lease.spec?.holderIdentity ?? '';
}

export function annotation(lease: LeaseWire | undefined, key: string): string | undefined {
  return lease?.metadata.annotations?.[key] ?? undefined;
}

/**
 * Kubernetes MicroTime (`2006-01-02T15:04:05.000000Z07:00`, always UTC here). Informational only:
 * expiry is never judged from these (they come from other nodes' wall clocks), see lease-lock.ts.
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A new Lease object (POST body). */
export function newLease(name: string, namespace: string, service: string, spec: LeaseSpec, annotations: Record<string, string> = {}): unknown {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: 'clusterseed' },
      annotations: { [SERVICE_ANNOTATION]: service, ...annotations },
    },
    spec: compactSpec(spec),
  };
}

/**
 * The PUT body: the object as read (resourceVersion included: that is the compare-and-swap), with
 * `spec` replaced and `annotations` changed (undefined value: removed).
 */
export function replaced(lease: LeaseWire, spec: LeaseSpec | undefined, annotations: Record<string, string | undefined> = {}): unknown {
  const body = structuredClone(lease) as LeaseWire;
  const merged: Record<string, string> = { ...(body.metadata.annotations ?? {}) };
  for (const [k, v] of Object.entries(annotations)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  body.metadata.annotations = merged;
  if (spec !== undefined) body.spec = compactSpec(spec);
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...body };
}

/** The spec as read, as a LeaseSpec to change and write back (null fields: absent). */
export function specOf(lease: LeaseWire): LeaseSpec {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? undefined,
    leaseDurationSeconds: s.leaseDurationSeconds ?? undefined,
    acquireTime: s.acquireTime ?? undefined,
    renewTime: s.renewTime ?? undefined,
    leaseTransitions: s.leaseTransitions ?? undefined,
  };
}

function compactSpec(spec: LeaseSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** The lock Lease's first-seed, undefined when none; malformed is a ProtocolError (never guessed). */
export function firstSeedOf(lease: LeaseWire | undefined, leaseName: string): FirstSeed | undefined {
  const text = annotation(lease, FIRST_SEED_ANNOTATION);
  if (text === undefined) return undefined;
  try {
    return decodeFirstSeed(text, `Lease ${leaseName} annotation ${FIRST_SEED_ANNOTATION}`);
  } catch (err) {
    throw new ProtocolError((err as Error).message, {
      cause: err,
      hint: `another program wrote this annotation; remove it (kubectl annotate lease ${leaseName} ${FIRST_SEED_ANNOTATION}-) to start a new election`,
    });
  }
}

/** The members annotation; malformed entries are skipped (and logged): the next write drops them. */
export function membersOf(lease: LeaseWire | undefined, leaseName: string, logger: Logger): ContactPoint[] {
  const text = annotation(lease, MEMBERS_ANNOTATION);
  if (text === undefined) return [];
  const field = `Lease ${leaseName} annotation ${MEMBERS_ANNOTATION}`;
  let items: unknown;
  try {
    items = JSON.parse(text);
  } catch {
    items = undefined;
  }
  if (!Array.isArray(items)) {
    logger.warn({ lease: leaseName }, `kubernetes: ${field} is not a JSON array; ignoring it (the next member write replaces it)`);
    return [];
  }
  const out: ContactPoint[] = [];
  for (const item of items) {
    try {
      out.push(decodePoint(JSON.stringify(item), field));
    } catch (err) {
      logger.warn({ lease: leaseName, error: (err as Error).message }, 'kubernetes: skipping a malformed member entry');
    }
  }
  return canonicalize(out);
}

/** Canonical order, no meta: every node writes the same text for the same set. */
export function encodeMembers(points: readonly ContactPoint[]): string {
  return `[${canonicalize(points)
    .map((p) => encodePoint(p, false))
    .join(',')}]`;
}

import net from 'node:net';
import { z } from 'zod';
import { BindPort, Bool, intRange, Millis, NonEmptyString, Port, PositiveMillis, ReadableFile } from './fields.js';
import { DiscoveryConfig } from './discovery.js';
import { SELF_ADDRESS_MODES } from '../self-address/modes.js';
import { checkManagementTls } from '../bootstrap/tls.js';

export const BootstrapSettings = z
  .strictObject({
    strategy: z.enum(['lowest-address', 'lock']).default('lowest-address'),
    /**
     * Fresh successful observations (self included) needed before anyone forms a cluster [a majority
     * of expectedContactPoints, ⌊E/2⌋+1, when that is set, so the two sides of a partition cannot both
     * form (DESIGN §5.5.2); else 2].
     */
    requiredContactPoints: intRange(1, 10_000).optional(),
    /** The discovered set must be unchanged this long before a node forms a cluster… */
    stableMarginMs: Millis.default(5000),
    /** …unless it already holds this many contact points (fast path; off when absent). */
    expectedContactPoints: intRange(1, 10_000).optional(),
    discoveryIntervalMs: PositiveMillis.default(1000),
    /** Cap of the back-off between failed lookups. */
    discoveryMaxBackoffMs: PositiveMillis.default(15_000),
    probeIntervalMs: PositiveMillis.default(1000),
    probeTimeoutMs: PositiveMillis.default(1000),
    /** A point counts as failed only after this long without a successful probe. */
    probeFailureWindowMs: PositiveMillis.default(3000),
    newClusterEnabled: Bool.default(true),
    /** Give up after this long (none by default in the API; the CLI uses 120000). */
    bootstrapTimeoutMs: PositiveMillis.optional(),
    /** Timeout of one discovery lookup. */
    resolveTimeoutMs: PositiveMillis.default(10_000),
    /** After the decision, how often a node checks that its cluster is the only one (DESIGN §5.5.3). */
    conflictCheckIntervalMs: PositiveMillis.default(5000),
  })
  .transform(({ requiredContactPoints, ...rest }) => ({ ...rest, requiredContactPoints: requiredContactPoints ?? quorumOf(rest.expectedContactPoints) }));
export type BootstrapSettings = z.output<typeof BootstrapSettings>;

/** The default of requiredContactPoints: a majority of E when E is known, else 2. */
export function quorumOf(expectedContactPoints: number | undefined): number {
  return expectedContactPoints === undefined ? 2 : Math.floor(expectedContactPoints / 2) + 1;
}

/**
 * The partition risk of an explicit requiredContactPoints: at most half of E lets both sides of a
 * split form a cluster each. undefined when there is none (DESIGN §5.5.2: allowed, but said).
 */
export function partitionRisk(settings: Pick<BootstrapSettings, 'requiredContactPoints' | 'expectedContactPoints'>): string | undefined {
  const e = settings.expectedContactPoints;
  if (e === undefined || settings.requiredContactPoints > e / 2) return undefined;
  return (
    `bootstrap.requiredContactPoints ${settings.requiredContactPoints} is at most half of expectedContactPoints ${e}: ` +
    `the two sides of a network partition (or of a split discovery) can each form a cluster; the default ${quorumOf(e)} (a majority) prevents that`
  );
}

/**
 * HTTPS on the management endpoint (DESIGN §3): the endpoint speaks TLS only, and peers probe over
 * HTTPS, verifying the responder against caFile (else the system CAs). One certificate serves both
 * roles, so with requireClientCert it carries the serverAuth and clientAuth extended key usages.
 */
export const ManagementTlsSettings = z
  .strictObject({
    /** PEM certificate (chain) this node serves, and presents as its client certificate in probes. */
    certFile: ReadableFile,
    /** PEM private key of certFile. */
    keyFile: ReadableFile,
    /** PEM CA bundle peers' certificates are verified against [the system CAs]. */
    caFile: ReadableFile.optional(),
    /** Mutual TLS: the endpoint refuses a client without a certificate signed by caFile. */
    requireClientCert: Bool.default(false),
  })
  .superRefine((tls, ctx) => {
    if (tls.requireClientCert && tls.caFile === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['caFile'],
        message: 'requireClientCert needs caFile: the CA that signs the client certificates peers present',
      });
      return;
    }
    // The PEM contents, as start-up reads them: not PEM, a key of another certificate, usages.
    for (const issue of checkManagementTls(tls)) ctx.addIssue({ code: 'custom', path: [issue.key], message: issue.message });
  });
export type ManagementTlsSettings = z.output<typeof ManagementTlsSettings>;

export const ManagementSettings = z.strictObject({
  /** Where the endpoint binds. */
  host: NonEmptyString.default('0.0.0.0'),
  /** 0 = any free port. */
  port: BindPort.default(7626),
  /** Bearer token required on /bootstrap/seed-nodes [CLUSTERSEED_MANAGEMENT_TOKEN]; never logged. */
  token: NonEmptyString.optional(),
  /** Serve the endpoint over HTTPS only and probe peers over HTTPS (absent: plain HTTP). */
  tls: ManagementTlsSettings.optional(),
});
export type ManagementSettings = z.output<typeof ManagementSettings>;

/** `10.0.0.0/16`: what self.interface accepts as a CIDR (src/self-address/interface.ts). */
function isIpv4Cidr(text: string): boolean {
  const [base, bits, ...rest] = text.split('/');
  return rest.length === 0 && base !== undefined && net.isIPv4(base) && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32;
}

export const SelfSettings = z
  .strictObject({
    /** How the advertised address is found when `host` is not given. */
    mode: z.enum(SELF_ADDRESS_MODES).optional(),
    /** Advertised address (explicit). */
    host: NonEmptyString.optional(),
    /** Advertised port [the bound management port]. */
    port: Port.optional(),
    /** mode=interface: an interface name ("eth1") or a CIDR ("10.0.0.0/16"). */
    interface: NonEmptyString.optional(),
    /** mode=ecs in bridge mode: the container port whose host port is advertised. */
    containerPort: Port.optional(),
    /** Allow falling back to IMDSv1 when IMDSv2 is unavailable (off: IMDSv2 only). */
    allowImdsV1: Bool.default(false),
  })
  .superRefine((self, ctx) => {
    if (self.host !== undefined && self.mode !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: 'give either "host" (explicit) or "mode" (resolved), not both' });
    }
    // An interface name is judged against this machine's interfaces at start-up; a CIDR's syntax is not.
    if (self.interface?.includes('/') && !isIpv4Cidr(self.interface)) {
      ctx.addIssue({
        code: 'custom',
        path: ['interface'],
        message: `${JSON.stringify(self.interface)} is neither an interface name nor an IPv4 CIDR`,
        params: { hint: 'e.g. "eth1" or "10.0.0.0/16"' },
      });
    }
  });
export type SelfSettings = z.output<typeof SelfSettings>;

/**
 * The discovery methods whose providers hold a seed lock (`seedLock()` + `register()`): the only ones
 * `bootstrap.strategy` "lock" can use. test/config/rules-walk.test.ts checks this list against the
 * provider classes.
 */
export const LOCK_CAPABLE_METHODS = ['zookeeper', 'etcd', 'consul', 'kubernetes-api', 'file'] as const;

export const Config = z
  .strictObject({
    /** The name peers share (tag value, ECS service, Consul service, registry path…). */
    service: NonEmptyString,
    discovery: DiscoveryConfig.prefault({ method: 'file' }),
    bootstrap: BootstrapSettings.prefault({}),
    management: ManagementSettings.prefault({}),
    self: SelfSettings.prefault({}),
  })
  .superRefine((config, ctx) => {
    // What bootstrap() would refuse after binding its endpoint is refused here, before anything starts.
    if (config.bootstrap.strategy === 'lock' && !(LOCK_CAPABLE_METHODS as readonly string[]).includes(config.discovery.method)) {
      ctx.addIssue({
        code: 'custom',
        path: ['bootstrap', 'strategy'],
        message: `"lock" needs a discovery method with a lock (${LOCK_CAPABLE_METHODS.join(', ')}); "${config.discovery.method}" has none`,
        params: { hint: `use bootstrap.strategy "lowest-address" with ${config.discovery.method}, or one of ${LOCK_CAPABLE_METHODS.join(', ')} for "lock"` },
      });
    }
    // The lock strategy tells live members by (pod IP, port): a pod's port must come from its spec.
    if (config.bootstrap.strategy === 'lock' && config.discovery.method === 'kubernetes-api' && config.discovery.portName === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['discovery', 'portName'],
        message:
          'bootstrap.strategy "lock" on kubernetes-api needs the name of the container port peers probe (e.g. "management"), ' +
          'so a pod can be matched to its record',
      });
    }
  });
export type Config = z.output<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

/** JSON Schema of the config file (for editors): `clusterseed config schema`. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
}

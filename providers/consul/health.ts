import net from 'node:net';
import { z } from 'zod';
import { isValidHostname, normalizeHost } from '../../src/address.js';
import { ProtocolError } from '../../src/errors.js';
import type { ContactPoint } from '../../src/types.js';

/** The fields of a /v1/health/service entry clusterseed reads; everything else is ignored. */
export const HealthEntries = z.array(
  z.object({
    Node: z.object({ Node: z.string(), Address: z.string(), Datacenter: z.string().optional() }),
    Service: z.object({
      ID: z.string(),
      Service: z.string(),
      Tags: z.array(z.string()).nullable().optional(),
      Address: z.string(),
      Port: z.number().int().min(0).max(65_535),
    }),
    Checks: z
      .array(z.object({ CheckID: z.string(), Status: z.string() }))
      .nullable()
      .optional(),
  }),
);
export type HealthEntries = z.output<typeof HealthEntries>;

export interface ToContactPointsOptions {
  /** Every one must be on the instance (the agent filters too; old agents honour only the first `tag`). */
  tags: readonly string[];
  portFromTag?: string;
  passingOnly: boolean;
  /** Called for an instance that is left out, with the reason. */
  onSkip(serviceId: string, reason: string): void;
}

/**
 * Pure: health entries → contact points. Host = Service.Address, or Node.Address when the service
 * registered without one (Pekko's Consul discovery returns the empty string there: a known bug).
 * Port = the number after `portFromTag` when configured and present, else Service.Port (0 = unknown).
 */
export function toContactPoints(entries: HealthEntries, what: string, options: ToContactPointsOptions): ContactPoint[] {
  const points: ContactPoint[] = [];
  entries.forEach((e, i) => {
    const tags = e.Service.Tags ?? [];
    if (!options.tags.every((t) => tags.includes(t))) {
      options.onSkip(e.Service.ID, 'lacks a required tag');
      return;
    }
    if (options.passingOnly && (e.Checks ?? []).some((c) => c.Status !== 'passing')) {
      options.onSkip(e.Service.ID, 'has a check that is not passing');
      return;
    }
    const field = e.Service.Address !== '' ? `[${i}].Service.Address` : `[${i}].Node.Address`;
    const host = e.Service.Address !== '' ? e.Service.Address : e.Node.Address;
    if (!net.isIP(host) && !isValidHostname(host)) {
      throw new ProtocolError(`${what}: unexpected response: ${field}: "${host.slice(0, 100)}" is not an IP address or host name`, {
        hint: 'fix the address the instance registered with',
      });
    }
    let port: number | undefined = e.Service.Port === 0 ? undefined : e.Service.Port;
    if (options.portFromTag !== undefined) {
      const tag = tags.find((t) => t.startsWith(options.portFromTag!));
      if (tag !== undefined) {
        const rest = tag.slice(options.portFromTag.length);
        const n = /^\d{1,5}$/.test(rest) ? Number(rest) : NaN;
        if (!(n >= 1 && n <= 65_535)) {
          options.onSkip(e.Service.ID, `tag "${tag}" does not end in a port number`);
          return;
        }
        port = n;
      }
    }
    const meta: Record<string, string> = { node: e.Node.Node, serviceId: e.Service.ID };
    if (tags.length > 0) meta.tags = tags.join(',');
    if (e.Node.Datacenter) meta.datacenter = e.Node.Datacenter;
    const cp: ContactPoint = { host: normalizeHost(host), meta };
    if (port !== undefined) cp.port = port;
    points.push(cp);
  });
  return points;
}

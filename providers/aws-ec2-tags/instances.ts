import net from 'node:net';
import type { Instance, Reservation } from '@aws-sdk/client-ec2';
import { ProtocolError } from '../../src/errors.js';
import type { ContactPoint } from '../../src/types.js';
import type { Ec2TagsOptions } from './options.js';

export type AddressType = Ec2TagsOptions['addressType'];

/** The address of `addressType`, or undefined when the instance has none (e.g. no public IPv4). */
export function addressOf(instance: Instance, addressType: AddressType): string | undefined {
  switch (addressType) {
    case 'private-ipv4':
      return instance.PrivateIpAddress;
    case 'public-ipv4':
      return instance.PublicIpAddress;
    case 'ipv6': {
      if (instance.Ipv6Address) return instance.Ipv6Address;
      // Older responses carry IPv6 only on the network interfaces: prefer the primary (device 0).
      const enis = [...(instance.NetworkInterfaces ?? [])].sort((a, b) => (a.Attachment?.DeviceIndex ?? 99) - (b.Attachment?.DeviceIndex ?? 99));
      for (const eni of enis) {
        const v6 = eni.Ipv6Addresses?.find((a) => a.IsPrimaryIpv6)?.Ipv6Address ?? eni.Ipv6Addresses?.[0]?.Ipv6Address;
        if (v6) return v6;
      }
      return undefined;
    }
  }
}

const FIELD: Record<AddressType, string> = { 'private-ipv4': 'privateIpAddress', 'public-ipv4': 'ipAddress', ipv6: 'ipv6Address' };

export interface MappedPage {
  points: ContactPoint[];
  /** Running instances skipped because they have no address of the configured type. */
  withoutAddress: string[];
}

/**
 * Contact points of one DescribeInstances page: one per (address, port), or one without a port
 * when no ports are configured. Instances that are not running are skipped even if the API returned
 * them; a value that is not an IP address is a ProtocolError naming the field.
 */
export function contactPointsOf(reservations: Reservation[] | undefined, options: Pick<Ec2TagsOptions, 'addressType' | 'ports'>): MappedPage {
  const points: ContactPoint[] = [];
  const withoutAddress: string[] = [];
  for (const reservation of reservations ?? []) {
    for (const instance of reservation.Instances ?? []) {
      const id = instance.InstanceId;
      if (!id) throw new ProtocolError('DescribeInstances: reservationSet.item.instancesSet.item without instanceId');
      if (instance.State?.Name !== 'running') continue;
      const address = addressOf(instance, options.addressType);
      if (address === undefined || address === '') {
        withoutAddress.push(id);
        continue;
      }
      const family = net.isIP(address);
      if (family === 0 || (options.addressType === 'ipv6') !== (family === 6)) {
        throw new ProtocolError(
          `DescribeInstances: ${FIELD[options.addressType]} of ${id} ` +
            `is not an IPv${options.addressType === 'ipv6' ? 6 : 4} address: ${JSON.stringify(address.slice(0, 64))}`,
        );
      }
      const meta: Record<string, string> = { instanceId: id };
      const az = instance.Placement?.AvailabilityZone;
      if (az) meta.az = az;
      if (options.ports.length === 0) points.push({ host: address, meta });
      else for (const port of options.ports) points.push({ host: address, port, meta });
    }
  }
  return { points, withoutAddress };
}

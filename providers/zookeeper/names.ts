import { parseHostPort } from '../../src/address.js';
import type { ContactPoint, ProviderContext } from '../../src/types.js';

/**
 * The address a registration or member znode is named after: `<host:port>` URI-encoded (pointKey).
 * undefined when the name does not decode (not URI-encoded, or not a host[:port]).
 */
export function decodeName(name: string): ContactPoint | undefined {
  try {
    return parseHostPort(decodeURIComponent(name));
  } catch {
    return undefined;
  }
}

/** The points a listing names, skipping (with a warning) children whose name is not an address. */
export function decodeNames(names: readonly string[], dir: string, context: ProviderContext, what: 'registration' | 'member'): ContactPoint[] {
  const points: ContactPoint[] = [];
  for (const name of names) {
    const point = decodeName(name);
    if (point) points.push(point);
    else context.logger.warn({ znode: `${dir}/${name}` }, `zookeeper: skipping malformed ${what} (the name is not a host:port)`);
  }
  return points;
}

import { createHash } from 'node:crypto';
import net from 'node:net';
import { isValidHostname, normalizeHost } from '../address.js';
import { ProtocolError } from '../errors.js';
import type { ContactPoint } from '../types.js';

/** The path every node serves its bootstrap state on (DESIGN §5.2 step 3). */
export const SEED_NODES_PATH = '/bootstrap/seed-nodes';

/**
 * The bounded long poll: `GET /bootstrap/seed-nodes?waitMs=N` with `If-None-Match: <the ETag of
 * the last answer>` is held until the answer's ETag (weak: over self, seedNodes and lowest) changes
 * or N ms pass, then answered like a plain
 * GET plus HELD_HEADER (how long it was held). Without the header, or with another ETag, it is
 * answered at once. A plain GET behaves exactly as DESIGN §5.2 says; every answer carries an ETag,
 * which is how a prober knows the peer can hold a request (older peers send none), and
 * MAX_WAIT_HEADER, the longest hold it grants.
 */
export const WAIT_PARAM = 'waitMs';
/** The longest hold this version grants; more is a 400 (a prober clamps its interval to what its peer grants). */
export const MAX_WAIT_MS = 60_000;
/** Response header of every answer with an ETag: the longest `waitMs` this responder grants. */
export const MAX_WAIT_HEADER = 'x-clusterseed-max-wait-ms';
/** What a responder that sends an ETag without MAX_WAIT_HEADER grants (the first versions of the long poll). */
export const LEGACY_MAX_WAIT_MS = 10_000;
/** Response header of a long poll: the ms the responder held the request before answering. */
export const HELD_HEADER = 'x-clusterseed-held-ms';

/**
 * The answer's ETag: weak, over what a prober decides on (DESIGN §5.2 step 4: the seeds and the
 * lowest point). `view` and `members` are not in it, so a node whose view grows one peer at a time
 * does not end every held poll at every step; the answer sent is rendered then, so it is current.
 */
export function answerTag(s: SeedNodesResponse): string {
  let tag = tags.get(s);
  if (tag === undefined) {
    tag = `W/"${createHash('sha256')
      .update(JSON.stringify([s.self, s.seedNodes, s.lowest]))
      .digest('base64url')
      .slice(0, 22)}"`;
    tags.set(s, tag);
  }
  return tag;
}

/** report() returns the same object while nothing changed: every held poll checks it after every change. */
const tags = new WeakMap<SeedNodesResponse, string>();

/**
 * Body of `GET /bootstrap/seed-nodes`. `seedNodes` empty means "not in a cluster"; otherwise the
 * responder's seeds, first seed first. `lowest` is the lowest point of the responder's own view and
 * `view` its size, so a prober can tell whether the responder agrees on who forms the cluster.
 * `members` is how many members the responder's cluster has as far as it knows (0 when undecided),
 * for operators and tools; the survivor rule of DESIGN §5.5.4 counts answers instead (every node of
 * both clusters counts the same answers, while each responder's own count is what it has seen).
 */
export interface SeedNodesResponse {
  self: ContactPoint;
  seedNodes: ContactPoint[];
  lowest: ContactPoint | null;
  view: number;
  members: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hostPort(value: unknown, field: string, where: string): ContactPoint {
  if (!isObj(value)) throw new ProtocolError(`${where}: "${field}" must be an object {host, port}`);
  const { host, port } = value;
  if (typeof host !== 'string' || (!net.isIP(host) && !isValidHostname(host))) {
    throw new ProtocolError(`${where}: "${field}.host" must be an IP address or host name`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ProtocolError(`${where}: "${field}.port" must be an integer 1-65535`);
  }
  return { host: normalizeHost(host), port };
}

/** Validates a peer's response; anything off is a ProtocolError naming the field, never a wrong seed. */
export function parseSeedNodesResponse(body: unknown, where: string): SeedNodesResponse {
  if (!isObj(body)) throw new ProtocolError(`${where}: response must be a JSON object`);
  const self = hostPort(body.self, 'self', where);
  const rawSeeds = body.seedNodes;
  if (!Array.isArray(rawSeeds)) throw new ProtocolError(`${where}: "seedNodes" must be an array`);
  if (rawSeeds.length > 100) throw new ProtocolError(`${where}: "seedNodes" has ${rawSeeds.length} entries (at most 100)`);
  const seedNodes = rawSeeds.map((s, i) => hostPort(s, `seedNodes[${i}]`, where));
  const lowest = body.lowest === null ? null : hostPort(body.lowest, 'lowest', where);
  const view = body.view;
  if (typeof view !== 'number' || !Number.isInteger(view) || view < 0) {
    throw new ProtocolError(`${where}: "view" must be a non-negative integer`);
  }
  // Peers from before DESIGN §5.5 do not send `members`: unknown, read as 0.
  const rawMembers = body.members;
  const members = rawMembers === undefined ? 0 : rawMembers;
  if (typeof members !== 'number' || !Number.isInteger(members) || members < 0) {
    throw new ProtocolError(`${where}: "members" must be a non-negative integer`);
  }
  return { self, seedNodes, lowest, view, members };
}

/** Only host and port go on the wire: meta stays local (it may hold instance ids users did not mean to publish). */
export function wirePoint(cp: ContactPoint): ContactPoint {
  return cp.port === undefined ? { host: cp.host } : { host: cp.host, port: cp.port };
}

import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket, { type Answer, type Packet, type RecordType } from 'dns-packet';
import { abortReason } from '../../src/backoff.js';
import { formatHostPort } from '../../src/address.js';
import { ProtocolError } from '../../src/errors.js';

/** A nameserver to ask: IP literal and port (53 unless configured). */
export interface Nameserver {
  host: string;
  port: number;
}

/** The parts of a DNS response the provider uses. */
export interface DnsResponse {
  rcode: string;
  answers: Answer[];
  additionals: Answer[];
  authorities: Answer[];
  /** Which nameserver answered (for error messages). */
  server: string;
}

export interface QueryOptions {
  signal: AbortSignal;
  /** How long one attempt waits for an answer. */
  timeoutMs: number;
}

/** Why an attempt produced no usable answer; the caller decides whether to try again elsewhere. */
export class NoAnswer extends Error {
  constructor(
    readonly reason: 'timeout' | 'network',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const UDP_PAYLOAD = 1232; // EDNS0 buffer size recommended by DNS Flag Day 2020: no IP fragmentation.

function queryPacket(id: number, name: string, type: RecordType, edns: boolean): Packet {
  return {
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD } as unknown as Answer] : [],
  };
}

/** Decodes and checks that the packet answers our question; undefined for a stray datagram. */
function decodeMatching(buf: Buffer, id: number, name: string, type: RecordType, where: string): Packet | undefined {
  let packet: Packet;
  try {
    packet = dnsPacket.decode(buf);
  } catch (err) {
    throw new ProtocolError(`dns: malformed response from ${where} for ${name} ${type}: ${(err as Error).message}`, {
      cause: err,
      hint: 'the nameserver sent something that is not a DNS message; check the nameservers setting',
    });
  }
  if (packet.id !== id || packet.type !== 'response') return undefined;
  const q = packet.questions?.[0];
  if (!q || q.type !== type || q.name.toLowerCase() !== name.toLowerCase()) return undefined;
  return packet;
}

function toResponse(packet: Packet, server: string): DnsResponse {
  const p = packet as Packet & { rcode?: string };
  return {
    rcode: p.rcode ?? 'NOERROR',
    answers: packet.answers ?? [],
    additionals: (packet.additionals ?? []).filter((a) => a.type !== 'OPT'),
    authorities: packet.authorities ?? [],
    server,
  };
}

/**
 * One exchange's settlement: the first of answer, error, timeout or abort wins; the timer, the abort
 * listener and the socket are released exactly once.
 */
function settleOnce<T>(
  options: QueryOptions,
  timeoutError: () => Error,
  release: () => void,
  resolve: (value: T) => void,
  reject: (err: unknown) => void,
): { succeed(value: T): void; fail(err: unknown): void; started: boolean } {
  let done = false;
  const finish = (fn: () => void) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    options.signal.removeEventListener('abort', onAbort);
    release();
    fn();
  };
  const onAbort = () => finish(() => reject(abortReason(options.signal)));
  const timer = setTimeout(() => finish(() => reject(timeoutError())), options.timeoutMs);
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener('abort', onAbort, { once: true });
  return { succeed: (v) => finish(() => resolve(v)), fail: (e) => finish(() => reject(e)), started: !done };
}

/** One UDP attempt. Resolves with the packet (possibly truncated), rejects with NoAnswer or ProtocolError. */
function queryUdp(server: Nameserver, name: string, type: RecordType, options: QueryOptions, edns: boolean): Promise<Packet> {
  const where = formatHostPort(server);
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 0x10000);
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const { succeed, fail, started } = settleOnce<Packet>(
      options,
      () => new NoAnswer('timeout', `no answer from ${where} within ${options.timeoutMs} ms`),
      () => socket.close(),
      resolve,
      reject,
    );
    if (!started) return;
    socket.on('error', (err) => fail(new NoAnswer('network', `${where}: ${err.message}`, { cause: err })));
    socket.on('message', (msg, rinfo) => {
      if (rinfo.port !== server.port) return; // not from the server we asked: ignore (spoofing guard)
      try {
        const packet = decodeMatching(msg, id, name, type, where);
        if (packet) succeed(packet);
      } catch (err) {
        fail(err);
      }
    });
    socket.send(dnsPacket.encode(queryPacket(id, name, type, edns)), server.port, server.host, (err) => {
      if (err) fail(new NoAnswer('network', `${where}: ${err.message}`, { cause: err }));
    });
  });
}

/** One TCP attempt (after a truncated UDP answer): 2-byte length-prefixed messages (RFC 1035 4.2.2). */
function queryTcp(server: Nameserver, name: string, type: RecordType, options: QueryOptions, edns: boolean): Promise<Packet> {
  const where = formatHostPort(server);
  return new Promise((resolve, reject) => {
    const id = randomInt(0, 0x10000);
    const socket = net.connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    const { succeed, fail, started } = settleOnce<Packet>(
      options,
      () => new NoAnswer('timeout', `no answer over TCP from ${where} within ${options.timeoutMs} ms`),
      () => socket.destroy(),
      resolve,
      reject,
    );
    if (!started) return;
    socket.on('error', (err) => fail(new NoAnswer('network', `${where} (TCP): ${err.message}`, { cause: err })));
    socket.on('connect', () => socket.write(dnsPacket.streamEncode(queryPacket(id, name, type, edns))));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 65_537) return fail(new ProtocolError(`dns: TCP response from ${where} exceeds 65535 bytes`));
      if (buffered.length < 2 || buffered.length < 2 + buffered.readUInt16BE(0)) return;
      try {
        const packet = decodeMatching(buffered.subarray(2, 2 + buffered.readUInt16BE(0)), id, name, type, where);
        if (packet) succeed(packet);
        else fail(new ProtocolError(`dns: TCP response from ${where} does not answer ${name} ${type} (id or question mismatch)`));
      } catch (err) {
        fail(err);
      }
    });
    socket.on('end', () => fail(new NoAnswer('network', `${where} closed the TCP connection before answering`)));
  });
}

async function queryOnce(server: Nameserver, name: string, type: RecordType, options: QueryOptions, edns: boolean): Promise<DnsResponse> {
  const where = formatHostPort(server);
  const udp = await queryUdp(server, name, type, options, edns);
  if (!(udp as Packet & { flag_tc?: boolean }).flag_tc) return toResponse(udp, where);
  return toResponse(await queryTcp(server, name, type, options, edns), where);
}

/**
 * Asks one server once: UDP first, TCP when the answer is truncated (TC flag). A server that does not
 * understand EDNS0 answers FORMERR (RFC 6891 §7): the query is repeated without it, as resolvers do.
 */
export async function queryServer(server: Nameserver, name: string, type: RecordType, options: QueryOptions): Promise<DnsResponse> {
  const response = await queryOnce(server, name, type, options, true);
  return response.rcode === 'FORMERR' ? queryOnce(server, name, type, options, false) : response;
}

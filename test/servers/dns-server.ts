/**
 * A small authoritative DNS server for tests, speaking real DNS over UDP and TCP on one loopback
 * port (dns-packet does the wire format). Run it as its own process:
 *
 *   node --import tsx test/servers/dns-server.ts [host]
 *
 * It prints `{"port":N}` on stdout, then reads JSON commands, one per line, on stdin and answers
 * each with one JSON line: `{"cmd":"zone","zone":{…}}` replaces the zone, `{"cmd":"stats"}` returns
 * how many queries each `TYPE name` received. `spawnDnsServer()` below wraps all that for tests.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import dnsPacket, { type Answer, type Packet, type Question } from 'dns-packet';

export interface ZoneRecord {
  name: string;
  type: 'A' | 'AAAA' | 'SRV' | 'CNAME';
  ttl?: number;
  /** A/AAAA: IP; CNAME: name; SRV: {port, target, priority?, weight?} */
  data: string | { port: number; target: string; priority?: number; weight?: number };
}

/** What the server does for a name instead of answering normally. */
/** `no-edns`: FORMERR for queries carrying an EDNS0 OPT record (an old server). */
export type Behaviour = 'servfail' | 'refused' | 'drop' | 'truncate' | 'garbage' | 'no-edns';

export interface Zone {
  records: ZoneRecord[];
  behaviours?: Record<string, Behaviour>;
  /** Shuffle answer order on every response (Weave DNS, Consul, CoreDNS all do). */
  shuffle?: boolean;
  /** Put the A/AAAA records of SRV targets in the additional section [true]. */
  additionals?: boolean;
  /** SOA minimum for negative answers (omitted: no SOA, so negative answers carry no TTL). */
  negativeTtl?: number;
}

const norm = (n: string) => n.replace(/\.$/, '').toLowerCase();

function shuffled<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function toAnswer(r: ZoneRecord): Answer {
  const data = typeof r.data === 'string' ? r.data : { priority: 1, weight: 1, ...r.data };
  return { name: r.name, type: r.type, ttl: r.ttl ?? 30, class: 'IN', data } as Answer;
}

/** The pure part: the response to one question under a zone (undefined = stay silent). */
export function answer(zone: Zone, q: Question, id: number, overUdp: boolean, edns = false): Buffer | undefined {
  const behaviour = zone.behaviours?.[norm(q.name)];
  if (behaviour === 'no-edns' && edns) return dnsPacket.encode({ type: 'response', id, questions: [q], flags: dnsPacket.RECURSION_DESIRED | 1 });
  if (behaviour === 'drop') return undefined;
  if (behaviour === 'garbage') return Buffer.from([0xde, 0xad, 0xbe]);
  const base = { type: 'response' as const, id, questions: [q] };
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED;
  const rcode = (code: number) => dnsPacket.encode({ ...base, flags: flags | code });
  if (behaviour === 'servfail') return rcode(2);
  if (behaviour === 'refused') return rcode(5);
  if (behaviour === 'truncate' && overUdp) return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE });
  const owned = zone.records.filter((r) => norm(r.name) === norm(q.name));
  if (owned.length === 0) {
    const soa: Answer[] =
      zone.negativeTtl === undefined
        ? []
        : [
            {
              name: 'test.',
              type: 'SOA',
              ttl: zone.negativeTtl,
              class: 'IN',
              data: { mname: 'ns.test', rname: 'admin.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: zone.negativeTtl },
            } as Answer,
          ];
    return dnsPacket.encode({ ...base, flags: flags | 3, authorities: soa }); // NXDOMAIN
  }
  let answers = owned.filter((r) => r.type === q.type || r.type === 'CNAME');
  // Follow a CNAME inside the zone, as an authoritative server with the target in zone does.
  const cname = answers.find((r) => r.type === 'CNAME');
  if (cname && q.type !== 'CNAME') answers = [cname, ...zone.records.filter((r) => norm(r.name) === norm(String(cname.data)) && r.type === q.type)];
  if (zone.shuffle) answers = shuffled(answers);
  const additionals: ZoneRecord[] = [];
  if (q.type === 'SRV' && zone.additionals !== false) {
    for (const r of answers) {
      if (r.type !== 'SRV' || typeof r.data === 'string') continue;
      const target = r.data.target;
      additionals.push(...zone.records.filter((x) => norm(x.name) === norm(target) && (x.type === 'A' || x.type === 'AAAA')));
    }
  }
  return dnsPacket.encode({ ...base, flags, answers: answers.map(toAnswer), additionals: additionals.map(toAnswer) } as Packet);
}

const hasEdns = (query: Packet) => (query.additionals ?? []).some((a) => a.type === 'OPT');

export interface DnsServer {
  port: number;
  close(): Promise<void>;
}

/** Starts the server in this process on `host` (UDP and TCP on the same free port). */
export async function startDnsServer(getZone: () => Zone, onQuery: (q: Question) => void, host = '127.0.0.1'): Promise<DnsServer> {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => udp.once('error', reject).bind(0, host, () => resolve()));
    const port = udp.address().port;
    const tcp = net.createServer((socket) => {
      let buf = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const query = dnsPacket.decode(msg);
          const q = query.questions?.[0];
          if (!q) continue;
          onQuery(q);
          const out = answer(getZone(), q, query.id ?? 0, false, hasEdns(query));
          if (!out) continue;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          socket.write(Buffer.concat([len, out]));
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (attempt > 20) throw new Error('dns-server: no port free for both UDP and TCP');
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      let query: Packet;
      try {
        query = dnsPacket.decode(msg);
      } catch {
        return;
      }
      const q = query.questions?.[0];
      if (!q) return;
      onQuery(q);
      const out = answer(getZone(), q, query.id ?? 0, true, hasEdns(query));
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          udp.close();
          tcp.close(() => resolve());
        }),
    };
  }
}

/** A handle on a DNS server running in its own process. */
export interface DnsServerProcess {
  host: string;
  port: number;
  /** `host:port`, the form `nameservers` takes. */
  address: string;
  setZone(zone: Zone): Promise<void>;
  /** Queries received per `TYPE name` (lower-cased, no trailing dot). */
  stats(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function spawnDnsServer(zone: Zone, host = '127.0.0.1'): Promise<DnsServerProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), host], { stdio: 'pipe' });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  const early: string[] = [];
  lines.on('line', (line) => (waiting.length > 0 ? waiting.shift()!(line) : early.push(line)));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      if (early.length > 0) return resolve(early.shift()!);
      const onExit = () => reject(new Error(`dns-server exited: ${stderr}`));
      child.once('exit', onExit);
      waiting.push((line) => {
        child.off('exit', onExit);
        resolve(line);
      });
    });
  const request = async (cmd: object) => {
    child.stdin.write(`${JSON.stringify(cmd)}\n`);
    return JSON.parse(await nextLine()) as Record<string, unknown>;
  };
  const { port } = JSON.parse(await nextLine()) as { port: number };
  await request({ cmd: 'zone', zone });
  return {
    host,
    port,
    address: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    setZone: async (z) => void (await request({ cmd: 'zone', zone: z })),
    stats: async () => (await request({ cmd: 'stats' })).queries as Record<string, number>,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function main(): Promise<void> {
  let zone: Zone = { records: [] };
  const queries: Record<string, number> = {};
  const server = await startDnsServer(
    () => zone,
    (q) => {
      const key = `${q.type} ${norm(q.name)}`;
      queries[key] = (queries[key] ?? 0) + 1;
    },
    process.argv[2] ?? '127.0.0.1',
  );
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = JSON.parse(line) as { cmd: string; zone?: Zone };
    if (cmd.cmd === 'zone' && cmd.zone) zone = cmd.zone;
    const reply = cmd.cmd === 'stats' ? { queries } : { ok: true };
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
  // The test runner going away must not leave the server behind.
  rl.on('close', () => void server.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();

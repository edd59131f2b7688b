/*
 * EC2 Query API (DescribeInstances) as in the Amazon EC2 API Reference: form-encoded POST with
 * Action and Version; InstanceId.N, Filter.N.Name / Filter.N.Value.M, MaxResults (5–1000, not with
 * InstanceId), NextToken; XML response `DescribeInstancesResponse/reservationSet/item/instancesSet/item`;
 * errors as `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 * Filters: values OR'd within a filter, filters AND'd; `*` and `?` wildcards (backslash escapes).
 */
import type { EmulatorHandler, EmulatorRequest, EmulatorResponse } from './server.js';

export interface Ec2Instance {
  instanceId: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
  instanceType: string;
  availabilityZone: string;
  privateIpAddress?: string;
  publicIpAddress?: string;
  ipv6Address?: string;
  tags: Record<string, string>;
  /** Instances launched together share a reservation. */
  reservationId: string;
}

const STATE_CODES: Record<Ec2Instance['state'], number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };
const XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export interface Ec2State {
  instances: Ec2Instance[];
  /** Answer UnauthorizedOperation (403) to every call. */
  denyAll: boolean;
  /** Page size when the client sends no MaxResults (AWS returns everything up to an undocumented limit). */
  defaultPageSize: number;
}

export class Ec2Handler implements EmulatorHandler {
  readonly name = 'ec2';
  readonly state: Ec2State;

  constructor(state: Partial<Ec2State> = {}) {
    this.state = { instances: [], denyAll: false, defaultPageSize: 1000, ...state };
  }

  match(req: EmulatorRequest): string | undefined {
    if (req.method !== 'POST' || req.headers['x-amz-target'] !== undefined) return undefined;
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
    const action = new URLSearchParams(req.body).get('Action');
    return action ? `ec2:${action}` : undefined;
  }

  handle(req: EmulatorRequest, action: string): EmulatorResponse {
    const params = new URLSearchParams(req.body);
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 Credential=')) {
      return ec2Error(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials', req.requestId);
    }
    if (!params.get('Version')) return ec2Error(400, 'MissingParameter', 'The request must contain the parameter Version', req.requestId);
    if (action !== 'ec2:DescribeInstances') {
      return ec2Error(400, 'InvalidAction', `The action ${params.get('Action')} is not valid for this web service.`, req.requestId);
    }
    if (this.state.denyAll) {
      return ec2Error(
        403,
        'UnauthorizedOperation',
        'You are not authorized to perform this operation. ' +
          'User: arn:aws:sts::123456789012:assumed-role/app is not authorized to perform: ec2:DescribeInstances',
        req.requestId,
      );
    }
    return this.#describeInstances(params, req.requestId);
  }

  fault(kind: 'throttle' | 'error500' | 'malformed', req: EmulatorRequest): EmulatorResponse {
    if (kind === 'throttle') return ec2Error(503, 'RequestLimitExceeded', 'Request limit exceeded.', req.requestId);
    if (kind === 'error500') return ec2Error(500, 'InternalError', 'An internal error has occurred.', req.requestId);
    return {
      status: 200,
      headers: xmlHeaders(req.requestId),
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${XMLNS}"><requestId>${req.requestId}</requestId>` +
        `<reservationSet><item><reservationId>r-1</res`,
    };
  }

  #describeInstances(params: URLSearchParams, requestId: string): EmulatorResponse {
    const ids = indexed(params, 'InstanceId');
    const maxResultsText = params.get('MaxResults');
    if (maxResultsText !== null && ids.length > 0) {
      return ec2Error(400, 'InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults', requestId);
    }
    let pageSize = this.state.defaultPageSize;
    if (maxResultsText !== null) {
      const n = Number(maxResultsText);
      if (!Number.isInteger(n) || n < 5 || n > 1000) {
        return ec2Error(
          400,
          'InvalidParameterValue',
          `Value ( ${maxResultsText} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`,
          requestId,
        );
      }
      pageSize = n;
    }
    const filters: { name: string; values: string[] }[] = [];
    for (let n = 1; params.has(`Filter.${n}.Name`); n++) {
      filters.push({ name: params.get(`Filter.${n}.Name`)!, values: indexed(params, `Filter.${n}.Value`) });
    }
    for (const f of filters) {
      if (!FILTERS[f.name] && !f.name.startsWith('tag:')) return ec2Error(400, 'InvalidParameterValue', `The filter '${f.name}' is invalid`, requestId);
    }
    let selected = this.state.instances;
    if (ids.length > 0) {
      const missing = ids.filter((id) => !selected.some((i) => i.instanceId === id));
      if (missing.length > 0) {
        return ec2Error(
          400,
          'InvalidInstanceID.NotFound',
          `The instance ID${missing.length > 1 ? 's' : ''} '${missing.join(', ')}' do${missing.length > 1 ? '' : 'es'} not exist`,
          requestId,
        );
      }
      selected = selected.filter((i) => ids.includes(i.instanceId));
    }
    selected = selected.filter((i) => filters.every((f) => matchesFilter(i, f)));

    let start = 0;
    const token = params.get('NextToken');
    if (token !== null) {
      const decoded = /^page:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
      if (!decoded) return ec2Error(400, 'InvalidParameterValue', `Invalid value '${token}' for nextToken`, requestId);
      start = Number(decoded[1]);
    }
    const page = selected.slice(start, start + pageSize);
    const next = start + pageSize < selected.length ? Buffer.from(`page:${start + pageSize}`).toString('base64') : undefined;
    return { status: 200, headers: xmlHeaders(requestId), body: describeInstancesXml(page, requestId, next) };
  }
}

function indexed(params: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let n = 1; params.has(`${prefix}.${n}`); n++) out.push(params.get(`${prefix}.${n}`)!);
  return out;
}

const FILTERS: Record<string, (i: Ec2Instance) => string[]> = {
  'instance-state-name': (i) => [i.state],
  'instance-state-code': (i) => [String(STATE_CODES[i.state])],
  'instance-type': (i) => [i.instanceType],
  'instance-id': (i) => [i.instanceId],
  'availability-zone': (i) => [i.availabilityZone],
  'private-ip-address': (i) => (i.privateIpAddress ? [i.privateIpAddress] : []),
  'ip-address': (i) => (i.publicIpAddress ? [i.publicIpAddress] : []),
  'tag-key': (i) => Object.keys(i.tags),
  'tag-value': (i) => Object.values(i.tags),
};

function matchesFilter(i: Ec2Instance, f: { name: string; values: string[] }): boolean {
  const candidates = f.name.startsWith('tag:') ? (f.name.slice(4) in i.tags ? [i.tags[f.name.slice(4)]!] : []) : FILTERS[f.name]!(i);
  return f.values.some((pattern) => {
    const re = wildcard(pattern);
    return candidates.some((c) => re.test(c));
  });
}

/** AWS filter wildcards: `*` any run, `?` one character, `\*` `\?` `\\` literal. */
export function wildcard(pattern: string): RegExp {
  let re = '';
  for (let k = 0; k < pattern.length; k++) {
    const ch = pattern[k]!;
    if (ch === '\\' && k + 1 < pattern.length) re += escapeRe(pattern[++k]!);
    else if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += escapeRe(ch);
  }
  return new RegExp(`^${re}$`, 's');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** EC2 sends the request id both in the body and as x-amzn-requestid. */
function xmlHeaders(requestId: string): Record<string, string> {
  return { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId, server: 'AmazonEC2' };
}

export function ec2Error(status: number, code: string, message: string, requestId: string): EmulatorResponse {
  return {
    status,
    headers: xmlHeaders(requestId),
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code>` +
      `<Message>${xmlEscape(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
  };
}

function instanceXml(i: Ec2Instance): string {
  const el = (name: string, value: string | undefined) => (value === undefined ? '' : `<${name}>${xmlEscape(value)}</${name}>`);
  const tags = Object.entries(i.tags)
    .map(([k, v]) => `<item><key>${xmlEscape(k)}</key><value>${xmlEscape(v)}</value></item>`)
    .join('');
  const eniId = `eni-${i.instanceId.slice(2)}`;
  const eni =
    i.privateIpAddress === undefined
      ? ''
      : `<item><networkInterfaceId>${eniId}</networkInterfaceId><subnetId>subnet-0a1b2c3d</subnetId><vpcId>vpc-0a1b2c3d</vpcId>` +
        `<ownerId>123456789012</ownerId><status>in-use</status>` +
        `<privateIpAddress>${i.privateIpAddress}</privateIpAddress><sourceDestCheck>true</sourceDestCheck>` +
        `<attachment><attachmentId>eni-attach-${i.instanceId.slice(2)}</attachmentId><deviceIndex>0</deviceIndex>` +
        `<status>attached</status><deleteOnTermination>true</deleteOnTermination></attachment>` +
        (i.publicIpAddress ? `<association><publicIp>${i.publicIpAddress}</publicIp><ipOwnerId>amazon</ipOwnerId></association>` : '') +
        `<privateIpAddressesSet><item><privateIpAddress>${i.privateIpAddress}</privateIpAddress><primary>true</primary></item></privateIpAddressesSet>` +
        (i.ipv6Address
          ? `<ipv6AddressesSet><item><ipv6Address>${i.ipv6Address}</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item></ipv6AddressesSet>`
          : '<ipv6AddressesSet/>') +
        `</item>`;
  return (
    `<item><instanceId>${i.instanceId}</instanceId><imageId>ami-0abcdef1234567890</imageId>` +
    `<instanceState><code>${STATE_CODES[i.state]}</code><name>${i.state}</name></instanceState>` +
    `<privateDnsName>${i.privateIpAddress ? `ip-${i.privateIpAddress.replace(/\./g, '-')}.ec2.internal` : ''}</privateDnsName><dnsName/><reason/>` +
    `<amiLaunchIndex>0</amiLaunchIndex><productCodes/><instanceType>${xmlEscape(i.instanceType)}</instanceType>` +
    `<launchTime>2026-01-05T10:00:00.000Z</launchTime>` +
    `<placement><availabilityZone>${xmlEscape(i.availabilityZone)}</availabilityZone><groupName/><tenancy>default</tenancy></placement>` +
    `<monitoring><state>disabled</state></monitoring><subnetId>subnet-0a1b2c3d</subnetId><vpcId>vpc-0a1b2c3d</vpcId>` +
    el('privateIpAddress', i.privateIpAddress) +
    el('ipAddress', i.publicIpAddress) +
    `<sourceDestCheck>true</sourceDestCheck><groupSet><item><groupId>sg-0a1b2c3d</groupId><groupName>default</groupName></item></groupSet>` +
    `<architecture>x86_64</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/xvda</rootDeviceName><blockDeviceMapping/>` +
    `<virtualizationType>hvm</virtualizationType><clientToken/>` +
    (tags ? `<tagSet>${tags}</tagSet>` : '') +
    `<hypervisor>xen</hypervisor><networkInterfaceSet>${eni}</networkInterfaceSet><ebsOptimized>false</ebsOptimized>` +
    el('ipv6Address', i.ipv6Address) +
    `</item>`
  );
}

/** Groups the page's instances by reservation, in order, as AWS does. */
export function describeInstancesXml(instances: Ec2Instance[], requestId: string, nextToken?: string): string {
  const reservations = new Map<string, Ec2Instance[]>();
  for (const i of instances) reservations.set(i.reservationId, [...(reservations.get(i.reservationId) ?? []), i]);
  const items = [...reservations]
    .map(
      ([rid, list]) =>
        `<item><reservationId>${rid}</reservationId><ownerId>123456789012</ownerId><groupSet/>` +
        `<instancesSet>${list.map(instanceXml).join('')}</instancesSet></item>`,
    )
    .join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId>` +
    `<reservationSet>${items}</reservationSet>${nextToken ? `<nextToken>${nextToken}</nextToken>` : ''}</DescribeInstancesResponse>`
  );
}

export interface FleetOptions {
  count: number;
  /** Tag every instance with service=<one of these> (round robin). */
  services?: string[];
  /** Every n-th instance is not running (mixed states). */
  notRunningEvery?: number;
  /** Every n-th instance has no tag at all. */
  untaggedEvery?: number;
  firstOctets?: string;
}

/** A deterministic fleet: 10.x.y.z private IPs, public IPs and IPv6 on every other instance, 3 AZs, 2 types. */
export function makeFleet(options: FleetOptions): Ec2Instance[] {
  const services = options.services ?? ['orders'];
  const states: Ec2Instance['state'][] = ['pending', 'stopped', 'terminated', 'stopping', 'shutting-down'];
  const out: Ec2Instance[] = [];
  for (let n = 0; n < options.count; n++) {
    const notRunning = options.notRunningEvery !== undefined && n % options.notRunningEvery === options.notRunningEvery - 1;
    const untagged = options.untaggedEvery !== undefined && n % options.untaggedEvery === options.untaggedEvery - 1;
    const state = notRunning ? states[n % states.length]! : 'running';
    const hex = n.toString(16).padStart(17, '0');
    out.push({
      instanceId: `i-${hex}`,
      state,
      instanceType: n % 2 === 0 ? 'm5.large' : 't3.medium',
      availabilityZone: `eu-west-1${'abc'[n % 3]}`,
      ...(state === 'terminated' ? {} : { privateIpAddress: `${options.firstOctets ?? '10.0'}.${Math.floor(n / 250)}.${(n % 250) + 1}` }),
      ...(state === 'running' && n % 2 === 0
        ? { publicIpAddress: `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`, ipv6Address: `2001:db8::${n.toString(16)}` }
        : {}),
      tags: untagged ? {} : { service: services[n % services.length]!, env: n % 4 === 0 ? 'prod' : 'staging', Name: `node-${n}` },
      reservationId: `r-${Math.floor(n / 3)
        .toString(16)
        .padStart(17, '0')}`,
    });
  }
  return out;
}

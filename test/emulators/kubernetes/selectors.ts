/*
 * Label and field selectors as the API server parses them (k8s.io/apimachinery/pkg/labels and
 * pkg/fields). Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
 * plus the numeric `k>n`/`k<n`, joined by commas (AND). Note the real semantics of the negative
 * operators: `k!=v` and `k notin (…)` also match objects WITHOUT the label. Field selectors support
 * only `=`, `==`, `!=` on a per-resource list of fields; any other field is a 400 BadRequest
 * "field label not supported: <field>" like the real server.
 */

export class SelectorError extends Error {}

export type LabelOp = 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

type Token = { kind: 'id'; text: string } | { kind: 'op'; text: string };

const OP_CHARS = new Set(['=', '!', '(', ')', ',', '<', '>']);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
      continue;
    }
    if (OP_CHARS.has(c)) {
      const two = input.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: 'op', text: two });
        i += 2;
        continue;
      }
      tokens.push({ kind: 'op', text: c });
      i += 1;
      continue;
    }
    let j = i;
    while (j < input.length && !OP_CHARS.has(input[j]!) && !/\s/.test(input[j]!)) j += 1;
    tokens.push({ kind: 'id', text: input.slice(i, j) });
    i = j;
  }
  return tokens;
}

// DNS-1123 subdomain prefix + "/" + name (qualified name), as metav1 validation.
const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function validateKey(key: string): void {
  const parts = key.split('/');
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const bad =
    parts.length > 2 ||
    name.length === 0 ||
    name.length > 63 ||
    !NAME.test(name) ||
    (parts.length === 2 && (parts[0]!.length === 0 || parts[0]!.length > 253 || !PREFIX.test(parts[0]!)));
  if (bad) {
    throw new SelectorError(
      `unable to parse requirement: <nil>: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', ` +
        `and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is ` +
        `'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    );
  }
}

function validateValue(value: string): void {
  if (value === '') return;
  if (value.length > 63 || !NAME.test(value)) {
    throw new SelectorError(
      `unable to parse requirement: <nil>: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric ` +
        `characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or ` +
        `'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
  }
}

/** Parses a label selector; "" selects everything. Throws SelectorError with the real server's wording where it matters. */
export function parseLabelSelector(input: string): LabelRequirement[] {
  const tokens = tokenize(input);
  const reqs: LabelRequirement[] = [];
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const expectEndOrComma = () => {
    const t = peek();
    if (t === undefined) return;
    if (t.kind === 'op' && t.text === ',') {
      pos += 1;
      if (peek() === undefined) throw new SelectorError(`found '', expected: identifier after ','`);
      return;
    }
    throw new SelectorError(`found '${t.text}', expected: ',' or 'end of string'`);
  };
  const value = (): string => {
    const t = peek();
    if (t === undefined || t.kind === 'op') return ''; // `k=` selects an empty value, as the real parser allows
    pos += 1;
    validateValue(t.text);
    return t.text;
  };
  if (tokens.length === 0) return reqs;
  while (pos < tokens.length) {
    const first = next()!;
    if (first.kind === 'op' && first.text === '!') {
      const key = next();
      if (key?.kind !== 'id') throw new SelectorError(`found '${key?.text ?? ''}', expected: identifier`);
      validateKey(key.text);
      reqs.push({ key: key.text, op: '!', values: [] });
      expectEndOrComma();
      continue;
    }
    if (first.kind !== 'id') throw new SelectorError(`found '${first.text}', expected: !, identifier, or 'end of string'`);
    validateKey(first.text);
    const op = peek();
    if (op === undefined || (op.kind === 'op' && op.text === ',')) {
      reqs.push({ key: first.text, op: 'exists', values: [] });
      expectEndOrComma();
      continue;
    }
    pos += 1;
    const opText = op.text;
    if (opText === '=' || opText === '==') reqs.push({ key: first.text, op: 'in', values: [value()] });
    else if (opText === '!=') reqs.push({ key: first.text, op: 'notin', values: [value()] });
    else if (opText === '>' || opText === '<') {
      const v = value();
      if (!/^-?\d+$/.test(v)) throw new SelectorError(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ key: first.text, op: opText === '>' ? 'gt' : 'lt', values: [v] });
    } else if (op.kind === 'id' && (opText === 'in' || opText === 'notin')) {
      const open = next();
      if (open?.text !== '(') throw new SelectorError(`found '${open?.text ?? ''}', expected: '('`);
      const values: string[] = [];
      for (;;) {
        const t = peek();
        if (t === undefined) throw new SelectorError(`found '', expected: ',', or ')'`);
        if (t.kind === 'op' && t.text === ')') {
          pos += 1;
          break;
        }
        if (t.kind === 'op' && t.text === ',') {
          pos += 1;
          if (values.length === 0) values.push('');
          continue;
        }
        if (t.kind !== 'id') throw new SelectorError(`found '${t.text}', expected: ',', ')' or identifier`);
        pos += 1;
        validateValue(t.text);
        values.push(t.text);
      }
      if (values.length === 0) throw new SelectorError(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty`);
      reqs.push({ key: first.text, op: opText, values });
    } else {
      throw new SelectorError(`found '${opText}', expected: '=', '!=', '==', 'in', notin'`);
    }
    expectEndOrComma();
  }
  return reqs;
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case '!':
        return !has;
      case 'gt':
        return has && /^-?\d+$/.test(v!) && Number(v) > Number(r.values[0]);
      case 'lt':
        return has && /^-?\d+$/.test(v!) && Number(v) < Number(r.values[0]);
      default:
        return false;
    }
  });
}

export interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

/** Field paths each resource's list supports (pods: pkg/apis/core/v1 conversion; others: metadata only). */
export const POD_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'status.phase',
  'status.podIP',
  'status.podIPs',
  'status.nominatedNodeName',
] as const;
export const METADATA_FIELDS = ['metadata.name', 'metadata.namespace'] as const;

export function parseFieldSelector(input: string, supported: readonly string[]): FieldRequirement[] {
  if (input.trim() === '') return [];
  return input.split(',').map((part) => {
    const m = /^([^=!]*?)(==|!=|=)(.*)$/.exec(part.trim());
    if (!m) throw new SelectorError(`invalid selector: '${input}'; can't understand '${part}'`);
    const field = m[1]!.trim();
    if (!supported.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, negate: m[2] === '!=', value: m[3]!.trim() };
  });
}

function fieldValue(obj: any, field: string): string {
  if (field === 'status.podIPs') return obj?.status?.podIPs?.[0]?.ip ?? '';
  let cur: any = obj;
  for (const part of field.split('.')) cur = cur?.[part];
  return cur === undefined || cur === null ? '' : String(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

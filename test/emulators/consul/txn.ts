import { EmulatorError, type ConsulState, type KvRecord } from './state.js';

/*
 * PUT /v1/txn, KV operations only (https://developer.hashicorp.com/consul/api-docs/txn): a JSON
 * array of `{"KV": {Verb, Key, Value (base64), Flags, Index, Session}}`, at most 128. All checks run
 * against the store as it is when the transaction starts, then every write applies under one index,
 * or none does: 200 `{"Results":[…],"Errors":null}` when applied, 409 `{"Results":null,"Errors":
 * [{"OpIndex","What"}]}` when rolled back, 400 for a body Consul would not decode.
 */

interface KvOp {
  Verb: string;
  Key: string;
  Value?: string;
  Flags?: number;
  Index?: number;
  Session?: string;
}

const VERBS = new Set(['set', 'cas', 'lock', 'unlock', 'get', 'get-or-empty', 'check-index', 'check-session', 'check-not-exists', 'delete', 'delete-cas']);
export const MAX_TXN_OPS = 128;

function parseOps(body: unknown): KvOp[] {
  if (!Array.isArray(body)) throw new EmulatorError(400, 'Failed to parse body: expected a JSON array of operations');
  if (body.length > MAX_TXN_OPS) throw new EmulatorError(413, `Transaction contains too many operations (${body.length} > ${MAX_TXN_OPS})`);
  return body.map((entry, i) => {
    const kv = (entry as { KV?: unknown } | null)?.KV as Partial<KvOp> | undefined;
    if (!kv || typeof kv.Verb !== 'string' || typeof kv.Key !== 'string')
      throw new EmulatorError(400, `Failed to parse body: operation ${i} is not a KV operation with Verb and Key`);
    if (!VERBS.has(kv.Verb)) throw new EmulatorError(400, `Invalid KV operation "${kv.Verb}"`);
    return kv as KvOp;
  });
}

/** Why `op` fails against the current store, or undefined when it can apply. */
function check(state: ConsulState, op: KvOp): string | undefined {
  const cur = state.kv.get(op.Key);
  switch (op.Verb) {
    case 'cas':
      if (op.Index === undefined) return `failed to set key "${op.Key}", missing Index for cas`;
      return (op.Index === 0 ? cur !== undefined : cur?.ModifyIndex !== op.Index) ? `failed to set key "${op.Key}", index is stale` : undefined;
    case 'delete-cas':
      return cur?.ModifyIndex !== op.Index ? `failed to delete key "${op.Key}", index is stale` : undefined;
    case 'check-index':
      return cur?.ModifyIndex !== op.Index ? `current modify index ${cur?.ModifyIndex ?? 0} != ${op.Index ?? 0}` : undefined;
    case 'check-session':
      if (!cur) return `key "${op.Key}" doesn't exist`;
      return cur.Session !== op.Session ? `key "${op.Key}" is not locked by session "${op.Session ?? ''}"` : undefined;
    case 'check-not-exists':
      return cur ? `key "${op.Key}" exists` : undefined;
    case 'get':
      return cur ? undefined : `key "${op.Key}" doesn't exist`;
    case 'lock':
    case 'unlock':
      if (!op.Session || !state.sessions.has(op.Session)) return `invalid session "${op.Session ?? ''}"`;
      if (op.Verb === 'lock' && cur?.Session !== undefined && cur.Session !== op.Session) return `failed to lock key "${op.Key}", lock is already held`;
      if (op.Verb === 'unlock' && cur?.Session !== op.Session) return `failed to unlock key "${op.Key}", lock isn't held, or is held by another session`;
      return undefined;
    default:
      return undefined;
  }
}

function resultJson(r: KvRecord, withValue: boolean) {
  const out: Record<string, unknown> = {
    LockIndex: r.LockIndex,
    Key: r.Key,
    Flags: r.Flags,
    Value: withValue && r.Value !== null && r.Value.length > 0 ? r.Value.toString('base64') : null,
    CreateIndex: r.CreateIndex,
    ModifyIndex: r.ModifyIndex,
  };
  if (r.Session !== undefined) out.Session = r.Session;
  return out;
}

export function runKvTxn(state: ConsulState, body: unknown): { status: number; body: unknown } {
  const ops = parseOps(body);
  const errors = ops.flatMap((op, OpIndex) => {
    const what = check(state, op);
    return what === undefined ? [] : [{ OpIndex, What: what }];
  });
  if (errors.length > 0) return { status: 409, body: { Results: null, Errors: errors } };
  const writes = ops.some((op) => !op.Verb.startsWith('check-') && !op.Verb.startsWith('get'));
  // bump() notifies blocking queries; they re-read after setImmediate, so they see every write below.
  const idx = writes ? state.bump() : state.index;
  const results: unknown[] = [];
  for (const op of ops) {
    const cur = state.kv.get(op.Key);
    const value = op.Value === undefined ? Buffer.alloc(0) : Buffer.from(op.Value, 'base64');
    if (op.Verb === 'set' || op.Verb === 'cas' || op.Verb === 'lock' || op.Verb === 'unlock') {
      const rec: KvRecord = {
        Key: op.Key,
        Value: value,
        Flags: op.Flags ?? 0,
        CreateIndex: cur?.CreateIndex ?? idx,
        ModifyIndex: idx,
        LockIndex: op.Verb === 'lock' && cur?.Session !== op.Session ? (cur?.LockIndex ?? 0) + 1 : (cur?.LockIndex ?? 0),
      };
      const session = op.Verb === 'lock' ? op.Session : op.Verb === 'unlock' ? undefined : cur?.Session;
      if (session !== undefined) rec.Session = session;
      state.kv.set(op.Key, rec);
      state.tombstones.delete(op.Key);
      results.push({ KV: resultJson(rec, false) });
    } else if (op.Verb === 'delete' || op.Verb === 'delete-cas') {
      if (cur) {
        state.kv.delete(op.Key);
        state.tombstones.set(op.Key, idx);
      }
    } else if (op.Verb === 'get' || op.Verb === 'get-or-empty') {
      if (cur) results.push({ KV: resultJson(cur, true) });
    } else if (cur) {
      results.push({ KV: resultJson(cur, false) });
    }
  }
  return { status: 200, body: { Results: results, Errors: null } };
}

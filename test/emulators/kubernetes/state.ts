import { randomUUID } from 'node:crypto';

/*
 * The emulated etcd: one global resourceVersion counter shared by every resource (as in a real
 * cluster, where an RV is an etcd revision), the current objects keyed "<namespace>/<name>" (etcd
 * key order, so paging is stable), and the change history since the last compaction. The history
 * lets a paged list be served from the snapshot at its first page's resourceVersion (as etcd does)
 * and a watch resume from any resourceVersion not yet compacted.
 */

export type Resource = 'pods' | 'leases';
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  type: EventType;
  resource: Resource;
  key: string;
  rv: number;
  object: any; // the object after the change (for DELETED: as it was, with the deletion's RV)
  previous?: any; // the object before the change (MODIFIED/DELETED)
}

type Objects = Map<string, any>;

export const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;
const clone = <T>(v: T): T => structuredClone(v);

export class ClusterState {
  #rv = 1;
  #compactedRv = 1;
  readonly #current: Record<Resource, Objects> = { pods: new Map(), leases: new Map() };
  #base: Record<Resource, Objects> = { pods: new Map(), leases: new Map() };
  #history: ChangeEvent[] = [];
  readonly #listeners = new Set<(e: ChangeEvent) => void>();

  get resourceVersion(): number {
    return this.#rv;
  }
  /** The oldest resourceVersion a list or watch may still be served from. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  get(resource: Resource, key: string): any | undefined {
    const o = this.#current[resource].get(key);
    return o === undefined ? undefined : clone(o);
  }

  /** Sorted [key, object] pairs at `rv` (current when rv is undefined or ≥ now); undefined when compacted away. */
  snapshot(resource: Resource, rv?: number): [string, any][] | undefined {
    let objects: Objects;
    if (rv === undefined || rv >= this.#rv) objects = this.#current[resource];
    else if (rv < this.#compactedRv) return undefined;
    else {
      objects = new Map(this.#base[resource]);
      for (const e of this.#history) {
        if (e.rv > rv) break;
        if (e.resource !== resource) continue;
        if (e.type === 'DELETED') objects.delete(e.key);
        else objects.set(e.key, e.object);
      }
    }
    return [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Events after `rv`, or undefined when `rv` is older than the compaction point. */
  eventsSince(rv: number): ChangeEvent[] | undefined {
    if (rv < this.#compactedRv) return undefined;
    return this.#history.filter((e) => e.rv > rv);
  }

  /** Creates or replaces; stamps metadata.resourceVersion (and uid/creationTimestamp on create). */
  put(resource: Resource, object: any): any {
    const meta = object.metadata;
    const key = keyOf(meta.namespace, meta.name);
    const previous = this.#current[resource].get(key);
    this.#rv += 1;
    const stored = clone(object);
    stored.metadata.resourceVersion = String(this.#rv);
    if (previous) {
      stored.metadata.uid = previous.metadata.uid;
      stored.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    } else {
      stored.metadata.uid ??= randomUUID();
      stored.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    }
    this.#current[resource].set(key, stored);
    this.#record({ type: previous ? 'MODIFIED' : 'ADDED', resource, key, rv: this.#rv, object: stored, previous });
    return clone(stored);
  }

  remove(resource: Resource, key: string): any | undefined {
    const previous = this.#current[resource].get(key);
    if (!previous) return undefined;
    this.#rv += 1;
    this.#current[resource].delete(key);
    const object = clone(previous);
    object.metadata.resourceVersion = String(this.#rv);
    this.#record({ type: 'DELETED', resource, key, rv: this.#rv, object, previous });
    return clone(object);
  }

  /**
   * Forgets history up to now. The global RV is bumped first (as other writes in a real cluster
   * would), so every resourceVersion a client holds is now too old: its next watch or paged list
   * from that version gets 410.
   */
  compact(): void {
    this.#rv += 1;
    this.#compactedRv = this.#rv;
    this.#base = { pods: new Map(this.#current.pods), leases: new Map(this.#current.leases) };
    this.#history = [];
  }

  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #record(e: ChangeEvent): void {
    this.#history.push(e);
    for (const l of [...this.#listeners]) l(e);
  }
}

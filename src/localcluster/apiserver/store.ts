import { type ChangeEvent, type KubeObject, objectKey } from './types.js';

/** Called synchronously for every committed change. */
export type ChangeListener = (event: ChangeEvent) => void;

export interface StoreOptions {
  /** How many changes the history keeps for watch replay before the oldest are compacted. */
  historyLimit?: number;
}

/**
 * The object storage: one resourceVersion counter for everything, the current objects per collection,
 * and a bounded history of changes that watches replay from.
 */
export class ObjectStore {
  private rv = 0;
  private compactedRv = 0;
  private readonly collections = new Map<string, Map<string, KubeObject>>();
  private readonly uids = new Map<string, { key: string; object: KubeObject }>();
  private history: ChangeEvent[] = [];
  private readonly historyLimit: number;
  private readonly listeners = new Set<ChangeListener>();

  constructor(options: StoreOptions = {}) {
    this.historyLimit = options.historyLimit ?? 20_000;
  }

  /** The latest resourceVersion handed out. */
  currentRv(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch may still start from. */
  oldestRv(): number {
    return this.compactedRv;
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.collections.get(key)?.get(objectKey(namespace, name));
  }

  /** Objects of a collection, optionally in one namespace, ordered by namespace and name. */
  list(key: string, namespace?: string): KubeObject[] {
    const collection = this.collections.get(key);
    if (!collection) return [];
    const entries = [...collection.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const objects = entries.map(([, object]) => object);
    return namespace === undefined ? objects : objects.filter((o) => o.metadata.namespace === namespace);
  }

  /** Keys of every collection that holds objects. */
  collectionKeys(): string[] {
    return [...this.collections.keys()];
  }

  findByUid(uid: string): { key: string; object: KubeObject } | undefined {
    return this.uids.get(uid);
  }

  /**
   * Stores a change under a new resourceVersion (written into the object), records it for watch
   * replay and tells every listener. The object must not be mutated afterwards.
   */
  commit(type: ChangeEvent['type'], key: string, object: KubeObject, previous?: KubeObject): ChangeEvent {
    this.rv += 1;
    object.metadata.resourceVersion = String(this.rv);
    let collection = this.collections.get(key);
    if (!collection) {
      collection = new Map();
      this.collections.set(key, collection);
    }
    const id = objectKey(object.metadata.namespace, object.metadata.name ?? '');
    const uid = object.metadata.uid ?? '';
    if (type === 'DELETED') {
      collection.delete(id);
      this.uids.delete(uid);
    } else {
      collection.set(id, object);
      this.uids.set(uid, { key, object });
    }
    const event: ChangeEvent = { type, key, rv: this.rv, object };
    if (previous) event.previous = previous;
    this.record(event);
    for (const listener of [...this.listeners]) listener(event);
    return event;
  }

  private record(event: ChangeEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, Math.floor(this.historyLimit / 2));
      this.compactedRv = dropped[dropped.length - 1]?.rv ?? this.compactedRv;
    }
  }

  /** Changes to a collection strictly after `rv`, or 'expired' when the history no longer reaches back. */
  changesSince(key: string, rv: number): ChangeEvent[] | 'expired' {
    if (rv < this.compactedRv) return 'expired';
    let low = 0;
    let high = this.history.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.history[mid]?.rv ?? 0) <= rv) low = mid + 1;
      else high = mid;
    }
    return this.history.slice(low).filter((e) => e.key === key);
  }

  /** Makes every resourceVersion handed out so far too old to watch from, as after an etcd compaction. */
  expireHistory(): void {
    this.rv += 1;
    this.compactedRv = this.rv;
    this.history = [];
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

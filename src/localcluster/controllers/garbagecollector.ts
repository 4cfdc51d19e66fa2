import type { ChangeEvent, KubeObject } from '../apiserver/types.js';
import { isConflict, isNotFound, splitKey, type ClusterAccess } from './access.js';

/**
 * Simulates kube-controller-manager's garbage collector: when an owner is gone, dependents with no
 * owner left are deleted in the background; it also serves the `orphan` and `foregroundDeletion`
 * finalizers that propagation policies set.
 */
export class GarbageCollector {
  private readonly access: ClusterAccess;
  private unsubscribe: (() => void) | undefined;

  constructor(access: ClusterAccess) {
    this.access = access;
  }

  start(): void {
    this.unsubscribe = this.access.onChange((event) => this.handle(event));
    this.sweep();
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Deletes dependents whose owners are all gone (those left behind while the collector was off). */
  sweep(): void {
    for (const { key, object } of this.access.all()) {
      const refs = object.metadata.ownerReferences ?? [];
      if (refs.length > 0 && refs.every((ref) => !this.access.exists(ref.uid))) this.remove(key, object);
    }
  }

  private handle(event: ChangeEvent): void {
    try {
      if (event.type === 'DELETED') {
        this.ownerGone(event.object.metadata.uid ?? '');
        this.checkForegroundOwners(event.object);
      } else if (event.object.metadata.deletionTimestamp) {
        this.processFinalizers(event.key, event.object);
      }
    } catch (err) {
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }

  private dependentsOf(uid: string): { key: string; object: KubeObject }[] {
    return this.access
      .all()
      .filter(({ object }) => (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid));
  }

  private ownerGone(uid: string): void {
    for (const { key, object } of this.dependentsOf(uid)) {
      const remaining = (object.metadata.ownerReferences ?? []).filter(
        (ref) => ref.uid !== uid && this.access.exists(ref.uid),
      );
      if (remaining.length === 0) this.remove(key, object);
    }
  }

  private remove(key: string, object: KubeObject): void {
    const { group, resource } = splitKey(key);
    try {
      this.access.delete(
        group,
        resource,
        { namespace: object.metadata.namespace, name: object.metadata.name ?? '' },
        'Background',
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private processFinalizers(key: string, owner: KubeObject): void {
    const finalizers = owner.metadata.finalizers ?? [];
    const uid = owner.metadata.uid ?? '';
    if (finalizers.includes('orphan')) {
      for (const dep of this.dependentsOf(uid)) {
        const refs = (dep.object.metadata.ownerReferences ?? []).filter((ref) => ref.uid !== uid);
        const { group, resource } = splitKey(dep.key);
        this.access.update(group, resource, {
          ...dep.object,
          metadata: { ...dep.object.metadata, ownerReferences: refs },
        });
      }
      this.dropFinalizer(key, owner, 'orphan');
    } else if (finalizers.includes('foregroundDeletion')) {
      const dependents = this.dependentsOf(uid);
      if (dependents.length === 0) this.dropFinalizer(key, owner, 'foregroundDeletion');
      for (const dep of dependents)
        if (!dep.object.metadata.deletionTimestamp) this.remove(dep.key, dep.object);
    }
  }

  private checkForegroundOwners(dependent: KubeObject): void {
    for (const ref of dependent.metadata.ownerReferences ?? []) {
      const owner = this.access.all().find(({ object }) => object.metadata.uid === ref.uid);
      if (owner?.object.metadata.deletionTimestamp) this.processFinalizers(owner.key, owner.object);
    }
  }

  private dropFinalizer(key: string, owner: KubeObject, finalizer: string): void {
    const { group, resource } = splitKey(key);
    const current = this.access.get(group, resource, owner.metadata.namespace, owner.metadata.name ?? '');
    if (!current) return;
    const finalizers = (current.metadata.finalizers ?? []).filter((f) => f !== finalizer);
    this.access.update(group, resource, { ...current, metadata: { ...current.metadata, finalizers } });
  }
}

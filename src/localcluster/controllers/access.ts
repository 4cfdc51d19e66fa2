import type { Registry, WriteOptions } from '../apiserver/registry.js';
import type { ResourceType } from '../apiserver/resources.js';
import { ApiError } from '../apiserver/errors.js';
import type { ChangeEvent, KubeObject } from '../apiserver/types.js';

/**
 * What the simulated controllers see of the control plane: reads, writes and a change feed with the
 * server's own semantics (resourceVersions, conflicts, finalizers). Objects handed out are copies.
 */
export interface ClusterAccess {
  get(group: string, resource: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(group: string, resource: string, namespace?: string): KubeObject[];
  /** Every stored object, across resources, with its `group/resource` key. */
  all(): { key: string; object: KubeObject }[];
  exists(uid: string): boolean;
  create(group: string, resource: string, object: KubeObject): KubeObject;
  /** Writes the main resource; the object's resourceVersion is a precondition. */
  update(group: string, resource: string, object: KubeObject): KubeObject;
  updateStatus(group: string, resource: string, object: KubeObject): KubeObject;
  delete(group: string, resource: string, ref: ObjectRef, propagationPolicy?: string): void;
  /** Changes, delivered asynchronously in commit order. */
  onChange(listener: (event: ChangeEvent) => void): () => void;
}

/** Names one object. */
export interface ObjectRef {
  namespace: string | undefined;
  name: string;
}

/** True for the 409 a stale write gets; controllers re-read and try again. */
export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.code === 409;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

/** ClusterAccess straight over the server's registry, as an in-process controller manager would have. */
export function registryAccess(registry: Registry, manager: string): ClusterAccess {
  const type = (group: string, resource: string): ResourceType => registry.mustType(group, resource);
  const options = (t: ResourceType): WriteOptions => ({ version: t.storageVersion, manager });
  return {
    get: (group, resource, namespace, name) => {
      const found = registry.tryGet(type(group, resource), namespace, name);
      return found ? structuredClone(found) : undefined;
    },
    list: (group, resource, namespace) =>
      registry.list(type(group, resource), namespace).map((o) => structuredClone(o)),
    all: () =>
      registry.store
        .collectionKeys()
        .flatMap((key) =>
          registry.store.list(key).map((object) => ({ key, object: structuredClone(object) })),
        ),
    exists: (uid) => registry.store.findByUid(uid) !== undefined,
    create: (group, resource, object) => {
      const t = type(group, resource);
      return structuredClone(registry.create(t, object.metadata.namespace, object, options(t)));
    },
    update: (group, resource, object) => {
      const t = type(group, resource);
      const target = { namespace: object.metadata.namespace, name: object.metadata.name ?? '' };
      return structuredClone(registry.update(t, target, object, options(t)).object);
    },
    updateStatus: (group, resource, object) => {
      const t = type(group, resource);
      const target = {
        namespace: object.metadata.namespace,
        name: object.metadata.name ?? '',
        subresource: 'status' as const,
      };
      return structuredClone(registry.update(t, target, object, options(t)).object);
    },
    delete: (group, resource, ref, propagationPolicy = 'Background') => {
      const t = type(group, resource);
      registry.delete(t, ref, { propagationPolicy }, options(t));
    },
    onChange: (listener) => {
      let active = true;
      const unsubscribe = registry.store.subscribe((event) => {
        setImmediate(() => {
          if (active) listener(event);
        });
      });
      return () => {
        active = false;
        unsubscribe();
      };
    },
  };
}

/** Splits a `group/resource` key. */
export function splitKey(key: string): { group: string; resource: string } {
  const slash = key.lastIndexOf('/');
  return { group: key.slice(0, slash), resource: key.slice(slash + 1) };
}

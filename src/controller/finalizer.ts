import { FINALIZER } from '../api/v1alpha1/keys.js';
import type { KubeClient, StoredSchemaMigration } from '../kube/types.js';
import { refOf } from './context.js';

export function hasFinalizer(object: StoredSchemaMigration): boolean {
  return (object.metadata.finalizers ?? []).includes(FINALIZER);
}

/** Adds or removes our finalizer; returns the object as stored afterwards. */
export async function setFinalizer(
  kube: KubeClient,
  object: StoredSchemaMigration,
  present: boolean,
): Promise<StoredSchemaMigration> {
  if (hasFinalizer(object) === present) return object;
  const others = (object.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
  const finalizers = present ? [...others, FINALIZER] : others;
  return kube.setSchemaMigrationFinalizers(refOf(object), finalizers, object.metadata.resourceVersion);
}

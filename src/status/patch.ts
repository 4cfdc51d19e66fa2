import { isDeepStrictEqual } from 'node:util';
import type { SchemaMigrationStatus } from '../api/v1alpha1/status.js';
import { isConflict, type KubeClient, type ObjectRef, type StoredSchemaMigration } from '../kube/types.js';

/** Named status fields to set; `null` removes a field (merge patch). */
export type StatusChanges = { [K in keyof SchemaMigrationStatus]?: SchemaMigrationStatus[K] | null };

const MAX_CONFLICT_RETRIES = 5;

function changedFields(current: SchemaMigrationStatus | undefined, changes: StatusChanges): StatusChanges {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(changes)) {
    const before = (current as Record<string, unknown> | undefined)?.[key];
    const unchanged = value === null ? before === undefined : isDeepStrictEqual(before, value);
    if (!unchanged && value !== undefined) patch[key] = value;
  }
  return patch;
}

/**
 * Writes status through the status subresource: compute the changes from the object (the one in hand, else a
 * fresh read), skip when nothing changes, merge patch with the resourceVersion as a precondition, and start
 * over from a fresh read on a 409 Conflict.
 * Returns the object as stored afterwards, or undefined when it is gone.
 */
export async function patchStatus(
  kube: KubeClient,
  ref: ObjectRef,
  compute: (current: StoredSchemaMigration) => StatusChanges,
  known?: StoredSchemaMigration,
): Promise<StoredSchemaMigration | undefined> {
  // The object in hand saves a read; a 409 means it was stale, and the next attempt reads afresh.
  let current = known ?? (await kube.getSchemaMigration(ref));
  for (let attempt = 0; current; attempt++) {
    const patch = changedFields(current.status, compute(current));
    if (Object.keys(patch).length === 0) return current;
    try {
      return await kube.patchSchemaMigrationStatus(ref, patch, current.metadata.resourceVersion);
    } catch (err) {
      if (!isConflict(err) || attempt >= MAX_CONFLICT_RETRIES) throw err;
    }
    current = await kube.getSchemaMigration(ref);
  }
  return undefined;
}

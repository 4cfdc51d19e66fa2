import { GROUP } from './group.js';

/** The one prefix shared by our annotations, labels and finalizer. */
export const PREFIX = `${GROUP}/`;

/** Annotations a user or the operator sets. */
export const Annotation = {
  /** On the SchemaMigration: the plan hash a human approved (approval gate). */
  approve: `${PREFIX}approve`,
  /** On the SchemaMigration: any new value retries a failed run without a spec change. */
  retry: `${PREFIX}retry`,
  /** On the SchemaMigration: the backup file to restore (one of status.backups). */
  restore: `${PREFIX}restore`,
  /** On the workload while it is scaled down: the replicas to restore. */
  originalReplicas: `${PREFIX}original-replicas`,
} as const;

/** Labels on the objects the operator creates (the backup Job and its pods). */
export const Label = {
  /** The owning SchemaMigration's name. */
  migration: `${PREFIX}migration`,
  /** The first 10 hex characters of the plan hash the object belongs to. */
  planHash: `${PREFIX}plan-hash`,
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
} as const;

/** The value of the app.kubernetes.io/managed-by label on everything we create. */
export const MANAGED_BY = 'schemaops';

/** Held while a run may have the workload scaled down, so deletion restores it first. */
export const FINALIZER = `${PREFIX}finalizer`;

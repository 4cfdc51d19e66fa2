import { MigrationErrorCode } from '../../migrations/errors.js';

/** Condition types on a SchemaMigration (metav1.Condition, kstatus conventions). */
export const ConditionType = {
  /** True only when the database is at the target revision and the workload is back. */
  Ready: 'Ready',
  /** True while a run is under way (kstatus). */
  Reconciling: 'Reconciling',
  /** True when nothing more happens without a human (kstatus). */
  Stalled: 'Stalled',
  /** True while the workload is held at zero replicas by a run. */
  WorkloadScaledDown: 'WorkloadScaledDown',
  /** True when the current plan's backup is complete and verified. */
  BackedUp: 'BackedUp',
  /** True when the database is at the target revision. */
  Migrated: 'Migrated',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const ConditionStatus = { True: 'True', False: 'False', Unknown: 'Unknown' } as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];

/** Every reason the operator reports, on any condition type: CamelCase, stable, declared only here. */
export const Reason = {
  // Progress
  /** The resource was seen for the first time or its generation changed. */
  Progressing: 'Progressing',
  /** The plan waits for the `schemaops.dev/approve` annotation with its hash. */
  AwaitingApproval: 'AwaitingApproval',
  ScalingDown: 'ScalingDown',
  /** Replicas are zero but pods are still terminating. */
  WaitingForPods: 'WaitingForPods',
  BackingUp: 'BackingUp',
  Migrating: 'Migrating',
  RollingBack: 'RollingBack',
  RestoringWorkload: 'RestoringWorkload',
  /** A retry was requested through the `schemaops.dev/retry` annotation. */
  RetryRequested: 'RetryRequested',
  /** The migrate step waits for a lock another session holds (retried with backoff until timeouts.migration). */
  WaitingForLock: 'WaitingForLock',
  /** spec.workload does not exist and the database is not empty: waiting for the workload to appear. */
  WaitingForWorkload: 'WaitingForWorkload',

  // Success and steady state
  /** The database is at the target revision (and the workload, if any, is back). */
  AtTargetRevision: 'AtTargetRevision',
  MigrationSucceeded: 'MigrationSucceeded',
  ScaledDown: 'ScaledDown',
  WorkloadRestored: 'WorkloadRestored',
  /** spec.workload is omitted: an online migration. */
  NoWorkload: 'NoWorkload',
  /** workload.scaleDown Auto and the plan is safe online: the workload stays up (the message names the rule). */
  OnlineSafe: 'OnlineSafe',
  /** workload.scaleDown Auto, but the plan is not safe online: the workload is scaled down (the message says why). */
  NotOnlineSafe: 'NotOnlineSafe',
  /** First install: spec.workload does not exist yet and the database was empty, so nothing needed scaling. */
  WorkloadNotCreatedYet: 'WorkloadNotCreatedYet',
  BackupSucceeded: 'BackupSucceeded',
  /** spec.backup is omitted. */
  BackupNotConfigured: 'BackupNotConfigured',
  Suspended: 'Suspended',
  Deleting: 'Deleting',

  // Refused before any action: nothing was touched
  InvalidSpec: 'InvalidSpec',
  SecretNotFound: 'SecretNotFound',
  SecretKeyNotFound: 'SecretKeyNotFound',
  /** The Secret's value is not a postgres:// or postgresql:// URL (the message names Secret and key, never the value). */
  InvalidDatabaseURL: 'InvalidDatabaseURL',
  /** Another SchemaMigration owns the same database and migrations table. */
  DatabaseClaimed: 'DatabaseClaimed',
  ConfigMapNotFound: 'ConfigMapNotFound',
  /** migrations.selector matched no ConfigMap. */
  NoMigrationsFound: 'NoMigrationsFound',
  WorkloadNotFound: 'WorkloadNotFound',
  BackupPvcNotFound: 'BackupPvcNotFound',
  /** The plan drops data and policy.allowDataLoss is false. */
  DataLossNotAllowed: 'DataLossNotAllowed',
  /** schemaops.dev/restore names a file that is not one of status.backups. */
  UnknownBackup: 'UnknownBackup',
  /** schemaops.dev/restore was refused: a run was under way, or there is no spec.backup to restore from. */
  RestoreRefused: 'RestoreRefused',

  // Restore from a backup
  Restoring: 'Restoring',
  /** The database was restored from a backup; nothing migrates until spec.targetRevision or the retry annotation changes. */
  RestoredFromBackup: 'RestoredFromBackup',
  /** The restore Job failed; the database is as it was before it. */
  RestoreFailed: 'RestoreFailed',

  // The migration engine's refusals and failures, reported under their own codes
  ...MigrationErrorCode,

  // A run failed part-way: policy.onFailure applies
  ScaleDownTimedOut: 'ScaleDownTimedOut',
  /** The workload did not have its recorded replicas available within timeouts.scaleUp (kept being checked). */
  ScaleUpTimedOut: 'ScaleUpTimedOut',
  /** Held locks or lost connections outlasted timeouts.migration. */
  MigrationTimedOut: 'MigrationTimedOut',
  BackupFailed: 'BackupFailed',
  /** The backup Job hit activeDeadlineSeconds (timeouts.backup). */
  BackupTimedOut: 'BackupTimedOut',
  /** onFailure KeepWorkloadDown: the workload stays at zero replicas. */
  WorkloadKeptDown: 'WorkloadKeptDown',
  /** The workload could not be scaled back (it was deleted or the scale call failed). */
  WorkloadRestoreFailed: 'WorkloadRestoreFailed',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

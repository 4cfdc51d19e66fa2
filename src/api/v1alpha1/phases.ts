/** status.phase: a one-word summary for humans and printer columns; conditions are the truth. */
export const Phase = {
  /** Accepted; nothing observed yet. */
  Pending: 'Pending',
  /** A plan is written to status and waits for the `schemaops.dev/approve` annotation. */
  AwaitingApproval: 'AwaitingApproval',
  /** The workload is being scaled to zero and its pods drained. */
  ScalingDown: 'ScalingDown',
  /** The backup Job is running. */
  BackingUp: 'BackingUp',
  /** Migrations are being applied or rolled back (see status.plan.direction). */
  Migrating: 'Migrating',
  /** A backup is being restored (see status.restore). */
  Restoring: 'Restoring',
  /** The database was restored from a backup and waits for a human (see status.restore). */
  Restored: 'Restored',
  /** The workload is being scaled back to its recorded replicas. */
  RestoringWorkload: 'RestoringWorkload',
  /** The database is at the target revision and the workload is back. */
  Ready: 'Ready',
  /** A run failed and policy.onFailure was applied; retried on a spec change or the retry annotation. */
  Failed: 'Failed',
  /** Refused before any action (invalid spec, missing input, drift); waits for a human. */
  Stalled: 'Stalled',
  /** spec.suspend is true; nothing is done. */
  Suspended: 'Suspended',
  /** The resource is being deleted; the workload is restored before the finalizer is removed. */
  Deleting: 'Deleting',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

export const PHASES = Object.values(Phase) as [Phase, ...Phase[]];

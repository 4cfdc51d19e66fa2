import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResult = 'success' | 'requeue' | 'error';
export type MigrationDirection = 'Up' | 'Down';
export type RunOutcome = 'Succeeded' | 'Failed';
/** The steps of a run that take time: each is timed from its start to its end, across reconciles. */
export type RunStep = 'scaleDown' | 'backup' | 'migrate' | 'restoreWorkload';
export interface ObjectKey {
  readonly namespace: string;
  readonly name: string;
}

/** The operator's Prometheus series, on a registry of its own so several instances can share a process. */
export interface OperatorMetrics {
  readonly registry: Registry;
  /** `error` means the reconcile itself threw (and is retried with backoff), not that a run failed. */
  reconciled(result: ReconcileResult, seconds: number): void;
  migrated(direction: MigrationDirection, count: number, seconds: number): void;
  backedUp(seconds: number): void;
  stepFinished(step: RunStep, seconds: number): void;
  downtime(seconds: number): void;
  runEnded(outcome: RunOutcome): void;
  refused(reason: string): void;
  /** The object's Stalled reason while Stalled=True, undefined when it is not (its series is removed). */
  stalled(object: ObjectKey, reason: string | undefined): void;
  /** Whether a run holds the object's workload at 0 replicas. */
  workloadScaledDown(object: ObjectKey, held: boolean): void;
  /** Drops the per-object series: of one object (deleted), or of all (this instance no longer leads). */
  forget(object?: ObjectKey): void;
  queueDepth(depth: number): void;
  leader(isLeader: boolean): void;
}

const reconcileResults: readonly ReconcileResult[] = ['success', 'requeue', 'error'];
const runOutcomes: readonly RunOutcome[] = ['Succeeded', 'Failed'];
const runSteps: readonly RunStep[] = ['scaleDown', 'backup', 'migrate', 'restoreWorkload'];

// Reconciles are mostly API round trips; migrations and backups run from sub-second to hours.
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const longRunningBuckets = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
const downtimeBuckets = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];
// Downtime is recorded at 0.1 s: a short run keeps the app down for well under a second.
const fineDowntimeBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

const keyOf = (object: ObjectKey) => `${object.namespace}/${object.name}`;

/** A gauge of one series per object, whose extra label may change: the old series goes when it does. */
function perObjectGauge(gauge: Gauge<'namespace' | 'name' | 'reason'> | Gauge<'namespace' | 'name'>) {
  const labels = new Map<string, Record<string, string>>();
  return {
    set(object: ObjectKey, extra: Record<string, string> | undefined): void {
      const key = keyOf(object);
      const previous = labels.get(key);
      const next = extra && { namespace: object.namespace, name: object.name, ...extra };
      if (previous && JSON.stringify(previous) !== JSON.stringify(next)) gauge.remove(previous);
      if (next) {
        gauge.set(next, 1);
        labels.set(key, next);
      } else labels.delete(key);
    },
    forget(object?: ObjectKey): void {
      for (const [key, previous] of labels) {
        if (object && key !== keyOf(object)) continue;
        gauge.remove(previous);
        labels.delete(key);
      }
    },
  };
}

export function createMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const reconciles = new Counter({
    name: 'schemaops_reconciles_total',
    help:
      'Reconciles of SchemaMigrations, by result: success (it finished, whatever it reported), requeue (it asked ' +
      'to look again later), error (it threw and is retried with backoff: API or database unreachable). A failed ' +
      'run or a refusal is a reconcile that succeeded: see schemaops_runs_total and schemaops_refusals_total.',
    labelNames: ['result'] as const,
    registers,
  });
  // Zero-valued series exist from the start so rate() and alerts see every result.
  for (const result of reconcileResults) reconciles.inc({ result }, 0);
  const reconcileDuration = new Histogram({
    name: 'schemaops_reconcile_duration_seconds',
    help: 'Time spent in one reconcile of a SchemaMigration.',
    buckets: reconcileBuckets,
    registers,
  });
  const applied = new Counter({
    name: 'schemaops_migrations_applied_total',
    help: 'Migrations applied (Up).',
    registers,
  });
  const rolledBack = new Counter({
    name: 'schemaops_migrations_rolled_back_total',
    help: 'Migrations rolled back (Down).',
    registers,
  });
  const migrationDuration = new Histogram({
    name: 'schemaops_migration_duration_seconds',
    help: 'Time taken by one run of migrations, in either direction.',
    labelNames: ['direction'] as const,
    buckets: longRunningBuckets,
    registers,
  });
  const backupDuration = new Histogram({
    name: 'schemaops_backup_duration_seconds',
    help: 'Time taken by a database backup Job.',
    buckets: longRunningBuckets,
    registers,
  });
  const downtime = new Histogram({
    name: 'schemaops_workload_downtime_seconds',
    help: 'Time the dependent workloads spent scaled down for a migration (see schemaops_downtime_seconds).',
    buckets: downtimeBuckets,
    registers,
  });
  const fineDowntime = new Histogram({
    name: 'schemaops_downtime_seconds',
    help: 'Time a run kept its workload down: from the scale-down request until it was ready again (0.1 s).',
    buckets: fineDowntimeBuckets,
    registers,
  });
  const runs = new Counter({
    name: 'schemaops_runs_total',
    help: 'Runs that ended, by outcome; counted once, when the history entry is written.',
    labelNames: ['outcome'] as const,
    registers,
  });
  for (const outcome of runOutcomes) runs.inc({ outcome }, 0);
  const refusals = new Counter({
    name: 'schemaops_refusals_total',
    help: 'Refusals (Stalled before acting), by reason; counted when one starts or its reason changes.',
    labelNames: ['reason'] as const,
    registers,
  });
  const stepDuration = new Histogram({
    name: 'schemaops_step_duration_seconds',
    help: 'Time one step of a run took, from its start to its end (across reconciles).',
    labelNames: ['step'] as const,
    buckets: longRunningBuckets,
    registers,
  });
  for (const step of runSteps) stepDuration.zero({ step });
  const stalled = perObjectGauge(
    new Gauge({
      name: 'schemaops_stalled',
      help: '1 while a SchemaMigration is Stalled, with the reason; no series when it is not.',
      labelNames: ['namespace', 'name', 'reason'] as const,
      registers,
    }),
  );
  const scaledDown = perObjectGauge(
    new Gauge({
      name: 'schemaops_workload_scaled_down',
      help: "1 while a run holds a SchemaMigration's workload at 0 replicas; no series when it does not.",
      labelNames: ['namespace', 'name'] as const,
      registers,
    }),
  );
  const queueDepth = new Gauge({
    name: 'schemaops_queue_depth',
    help: 'Keys waiting in the work queue.',
    registers,
  });
  const leader = new Gauge({
    name: 'schemaops_leader',
    help: '1 when this instance holds the leader lease, else 0.',
    registers,
  });
  leader.set(0);

  return {
    registry,
    reconciled(result, seconds) {
      reconciles.inc({ result });
      reconcileDuration.observe(seconds);
    },
    migrated(direction, count, seconds) {
      (direction === 'Up' ? applied : rolledBack).inc(count);
      migrationDuration.observe({ direction }, seconds);
    },
    backedUp: (seconds) => backupDuration.observe(seconds),
    stepFinished: (step, seconds) => stepDuration.observe({ step }, seconds),
    downtime(seconds) {
      downtime.observe(seconds);
      fineDowntime.observe(seconds);
    },
    runEnded: (outcome) => runs.inc({ outcome }),
    refused: (reason) => refusals.inc({ reason }),
    stalled: (object, reason) => stalled.set(object, reason === undefined ? undefined : { reason }),
    workloadScaledDown: (object, held) => scaledDown.set(object, held ? {} : undefined),
    forget(object) {
      stalled.forget(object);
      scaledDown.forget(object);
    },
    queueDepth: (depth) => queueDepth.set(depth),
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  };
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type ReconcileResult = 'success' | 'requeue' | 'error';
export type MigrationDirection = 'Up' | 'Down';

/** The operator's Prometheus series, on a registry of its own so several instances can share a process. */
export interface OperatorMetrics {
  readonly registry: Registry;
  reconciled(result: ReconcileResult, seconds: number): void;
  migrated(direction: MigrationDirection, count: number, seconds: number): void;
  backedUp(seconds: number): void;
  downtime(seconds: number): void;
  queueDepth(depth: number): void;
  leader(isLeader: boolean): void;
}

const reconcileResults: readonly ReconcileResult[] = ['success', 'requeue', 'error'];

// Reconciles are mostly API round trips; migrations and backups run from sub-second to hours.
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const longRunningBuckets = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
const downtimeBuckets = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800];

export function createMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const reconciles = new Counter({
    name: 'schemaops_reconciles_total',
    help: 'Reconciles of SchemaMigrations, by result.',
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
    help: 'Time the dependent workloads spent scaled down for a migration.',
    buckets: downtimeBuckets,
    registers,
  });
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
    downtime: (seconds) => downtime.observe(seconds),
    queueDepth: (depth) => queueDepth.set(depth),
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  };
}

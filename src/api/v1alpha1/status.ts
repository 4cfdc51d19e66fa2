import { z } from 'zod';
import { ConditionStatus } from './conditions.js';
import { PHASES } from './phases.js';
import { WORKLOAD_KINDS } from './spec.js';

/** At most this many runs are kept in status.history, newest first. */
export const HISTORY_LIMIT = 10;

/** Up and Down migrate; Restore replaces the database with a backup. */
export const DIRECTIONS = ['Up', 'Down', 'Restore'] as const;
export const RESTORE_SOURCES = ['Annotation', 'OnFailure'] as const;
export const BACKUP_PURPOSES = ['Run', 'Safety'] as const;
/** At most this many backups carry their per-table row counts in status (the newest); all carry totals. */
export const TABLE_ROWS_KEPT = 3;
/** A plan that creates more relations than this is backed up whole while down. */
export const CREATED_LIMIT = 200;
/** At most this many tables' counts are kept per backup in status; the counts file beside the dump has all. */
export const TABLE_ROWS_LIMIT = 100;
export const OUTCOMES = ['Succeeded', 'Failed'] as const;

const timestamp = z.iso.datetime({ offset: true });
const revision = z.string().describe('A migration name, or "base" for none.');

/** The longest message the operator writes to a condition; longer ones are cut (the API allows 32 KiB). */
export const MESSAGE_LIMIT = 4096;

/** The workload a run acts on, named when the run starts: a later change to spec.workload is the next run's. */
export const runWorkloadSchema = z
  .object({
    kind: z.enum(WORKLOAD_KINDS),
    name: z.string(),
  })
  .describe('The workload this run scales down and restores, fixed when the run started.');

/** metav1.Condition. */
export const conditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(Object.values(ConditionStatus) as [ConditionStatus, ...ConditionStatus[]]),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: timestamp,
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});

export const planSummarySchema = z
  .object({
    statements: z.int().min(0),
    kinds: z
      .array(z.object({ kind: z.string(), count: z.int().min(0) }))
      .describe(
        "Statements per kind, as PostgreSQL's parser names them (Create, AlterTable, Index, Insert, …).",
      ),
    destructive: z
      .array(
        z.object({
          at: z.string().describe('file:line'),
          statement: z.string(),
          rows: z
            .int()
            .min(0)
            .optional()
            .describe('The rows (or values) at stake, measured in the database.'),
        }),
      )
      .describe('The statements that drop or lose data, with what they would lose.'),
    destructiveOmitted: z.int().min(0).optional(),
  })
  .describe(
    'What the plan runs; the whole SQL is in the ConfigMap <name>-plan, bound to the plan by its hash.',
  );

export const planSchema = z
  .object({
    from: revision.optional(),
    to: revision.optional(),
    direction: z.enum(DIRECTIONS),
    migrations: z
      .array(z.string())
      .describe('The migrations the plan applies (Up) or reverts (Down), in order.'),
    destructive: z.boolean().describe('Whether the plan goes down or drops data.'),
    hash: z.string().describe('sha256:<hex> over the plan; what `schemaops.dev/approve` must carry.'),
    summary: planSummarySchema.optional(),
    startedAt: timestamp.optional().describe('When the run began acting on the plan.'),
    backupJob: z
      .string()
      .optional()
      .describe("The run's backup Job, recorded before it is created so a restart adopts it."),
    tablesBackupJob: z
      .string()
      .optional()
      .describe(
        'The Job that dumps, while the workload is down, the tables the plan touches (after the full dump taken before the scale-down).',
      ),
    created: z
      .array(z.string())
      .max(CREATED_LIMIT)
      .optional()
      .describe(
        'Relations the plan creates (quoted, schema-qualified): what a restore of the touched tables drops.',
      ),
    generation: z
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation whose spec this run carries out.'),
    workload: runWorkloadSchema.optional(),
    online: z
      .object({
        online: z.boolean().describe('Whether the plan runs with the workload up.'),
        rule: z
          .string()
          .describe('The rule that decided: direction, data-loss, squawk:<rule>, parser:<kind>…'),
        reason: z.string().describe('Why, in one sentence, naming file:line where a statement decided.'),
      })
      .optional()
      .describe('Under workload.scaleDown Auto: whether the plan is safe online, and why.'),
    migrationStartedAt: timestamp
      .optional()
      .describe('When the migrate step began: timeouts.migration counts from here.'),
    migrationAttempts: z
      .int()
      .min(0)
      .optional()
      .describe('How many times the migrate step met a held lock or a lost connection.'),
    migrationRetryAt: z
      .string()
      .optional()
      .describe('When the migrate step tries again after a held lock or a lost connection (RFC 3339, ms).'),
    restoreStartedAt: timestamp
      .optional()
      .describe('When the workload was scaled back up: timeouts.scaleUp counts from here.'),
    restore: z
      .object({
        file: z.string().describe('The backup being restored.'),
        source: z.enum(RESTORE_SOURCES).describe('Annotation (schemaops.dev/restore) or OnFailure (policy).'),
        countsSha256: z
          .string()
          .describe("sha256 of the backup's row counts file, as recorded at backup time."),
        relationsSha256: z
          .string()
          .optional()
          .describe(
            'For a backup of the touched tables: sha256 of its relations file; only those are replaced.',
          ),
        created: z
          .array(z.string())
          .max(CREATED_LIMIT)
          .optional()
          .describe('Relations the failed plan created.'),
        job: z.string().optional().describe('The restore Job, recorded before it is created.'),
        restoredAt: timestamp.optional().describe('When the restore Job committed.'),
      })
      .optional()
      .describe('Set when this run restores a backup (direction Restore).'),
    scaleDownAt: timestamp
      .optional()
      .describe('When the workload was asked to scale to 0 (RFC 3339, ms): the downtime counts from here.'),
    workloadReadyAt: timestamp
      .optional()
      .describe('When the workload was seen ready again (RFC 3339, ms): the downtime ends here.'),
  })
  .describe('The run under way or waiting for approval.');

export const lastBackupSchema = z.object({
  file: z.string().describe('The dump file name on the backup PVC.'),
  job: z.string().describe('The Job that wrote it.'),
  completedAt: timestamp.optional(),
  sizeBytes: z.int().min(0).optional(),
});

export const tableRowsSchema = z.object({
  table: z.string().describe('schema.table, quoted as pg_dump quotes it.'),
  rows: z.int().min(0),
});

export const backupRecordSchema = z.object({
  file: z
    .string()
    .describe('The dump file name on the backup PVC; `<file>.counts` beside it holds every count.'),
  job: z.string().describe('The Job that wrote it.'),
  purpose: z
    .enum(BACKUP_PURPOSES)
    .describe("Run: a run's backup before its SQL. Safety: taken before a restore."),
  scope: z
    .enum(['Full', 'Tables'])
    .optional()
    .describe('Full: the whole database. Tables: only the relations a run touched and what hangs on them.'),
  pointInTime: z
    .enum(['BeforeScaleDown', 'WhileDown'])
    .optional()
    .describe(
      'BeforeScaleDown: one consistent snapshot taken while the app still ran (later writes are not in it). WhileDown: taken with the workload at 0.',
    ),
  relationsSha256: z.string().optional().describe('Tables: sha256 of the `<file>.relations` list.'),
  fallback: z.string().optional().describe('Why a backup of the touched tables was taken whole instead.'),
  revision: revision.describe('The revision the database was at when it was dumped.'),
  completedAt: timestamp,
  sizeBytes: z.int().min(0),
  compression: z.string().optional().describe("pg_dump's --compress: gzip:1, zstd:1, none, …"),
  verified: z
    .enum(['Read', 'Restore'])
    .describe(
      'Read: every row was read back from the dump. Restore: it also restored into a scratch database.',
    ),
  tables: z.int().min(0),
  rows: z.int().min(0),
  countsSha256: z.string().describe('sha256 of the counts file; a restore checks the database against it.'),
  tableRows: z
    .array(tableRowsSchema)
    .max(TABLE_ROWS_LIMIT)
    .optional()
    .describe('Each table and its rows, read from the dump itself (the newest backups, when they fit).'),
});

export const restoreRecordSchema = z
  .object({
    request: z
      .string()
      .optional()
      .describe('The schemaops.dev/restore value acted on; cleared when the annotation is removed.'),
    file: z.string(),
    source: z.enum(RESTORE_SOURCES),
    outcome: z.enum(['Restoring', 'Restored', 'Failed', 'Refused']),
    message: z.string().max(MESSAGE_LIMIT).optional(),
    revision: revision.optional().describe('The revision the backup holds.'),
    safetyBackup: z.string().optional().describe('The backup taken of the database just before the restore.'),
    startedAt: timestamp.optional(),
    finishedAt: timestamp.optional(),
    generation: z.int().min(0).optional().describe('The metadata.generation when it ended.'),
    retry: z.string().optional().describe('The schemaops.dev/retry annotation value when it ended.'),
  })
  .describe(
    'The last restore: after one, nothing migrates until the generation or the retry annotation changes.',
  );

export const historyEntrySchema = z.object({
  from: revision,
  to: revision,
  direction: z.enum(DIRECTIONS),
  startedAt: timestamp,
  finishedAt: timestamp,
  outcome: z.enum(OUTCOMES),
  downtimeSeconds: z
    .number()
    .min(0)
    .optional()
    .describe(
      'How long the run kept the workload down, to 0.1 s: from the scale-down request until it was ready again.',
    ),
  backupFile: z.string().optional().describe('The backup this run took.'),
  restoredFrom: z.string().optional().describe('For a restore: the backup it restored.'),
  planHash: z.string().optional().describe('The hash of the plan the run carried out.'),
});

export const failureSchema = z
  .object({
    generation: z.int().min(0).describe('The metadata.generation the run failed at.'),
    retry: z.string().optional().describe('The schemaops.dev/retry annotation value when it failed.'),
    reason: z.string(),
    failedAt: timestamp,
  })
  .describe(
    'The last failed run; a new run starts only when the generation or the retry annotation changes.',
  );

export const statusSchema = z
  .object({
    observedGeneration: z.int().min(0).optional(),
    phase: z.enum(PHASES).optional(),
    currentRevision: z.string().optional().describe('Read from the database, not remembered.'),
    plan: planSchema.optional(),
    workload: z
      .object({
        kind: z.enum(WORKLOAD_KINDS).optional(),
        name: z.string().optional(),
        uid: z.string().optional(),
        originalReplicas: z.int().min(0),
      })
      .optional()
      .describe(
        'The workload a run scaled down, recorded before scaling: restored from this record, never from the spec.',
      ),
    claim: z
      .object({
        database: z.string().describe('host:port/dbname, without credentials.'),
        migrationsTable: z.string().describe('schema.table of the migrations table.'),
        claimedAt: z.string().describe('When this SchemaMigration claimed the database (RFC 3339, ms).'),
      })
      .optional()
      .describe('The database this SchemaMigration owns; a second one for the same database is refused.'),
    lastBackup: lastBackupSchema.optional(),
    backups: z
      .array(backupRecordSchema)
      .optional()
      .describe('Completed, verified backups on the PVC, newest first, as many as spec.backup.retain.'),
    restore: restoreRecordSchema.optional(),
    history: z.array(historyEntrySchema).max(HISTORY_LIMIT).optional().describe('Newest first.'),
    failure: failureSchema.optional(),
    conditions: z
      .array(conditionSchema)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  })
  .describe('Written by the operator through the status subresource.');

export type Condition = z.output<typeof conditionSchema>;
export type RunWorkload = z.output<typeof runWorkloadSchema>;
export type WorkloadRecord = NonNullable<SchemaMigrationStatus['workload']>;
export type Claim = NonNullable<SchemaMigrationStatus['claim']>;
export type Plan = z.output<typeof planSchema>;
export type Direction = Plan['direction'];
export type LastBackup = z.output<typeof lastBackupSchema>;
export type HistoryEntry = z.output<typeof historyEntrySchema>;
export type Outcome = HistoryEntry['outcome'];
export type Failure = z.output<typeof failureSchema>;
export type PlanSummary = z.output<typeof planSummarySchema>;
export type BackupRecord = z.output<typeof backupRecordSchema>;
export type RestoreRecord = z.output<typeof restoreRecordSchema>;
export type RestoreSource = (typeof RESTORE_SOURCES)[number];
export type SchemaMigrationStatus = z.output<typeof statusSchema>;

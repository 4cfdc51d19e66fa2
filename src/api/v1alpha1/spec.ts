import { z } from 'zod';
import { parseDuration } from '../../duration.js';

/** A Go-style duration as Kubernetes users write them: 500ms, 2s, 5m, 1h30m. */
export const DURATION_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

/** A DNS-1123 subdomain: the name of a Secret, ConfigMap, PVC, Deployment or StatefulSet. */
export const OBJECT_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Secret data key. */
const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]+$/;

const objectName = z
  .string()
  .max(253)
  .regex(OBJECT_NAME_PATTERN, 'must be a DNS-1123 subdomain (lower case letters, digits, "-" and ".")');

function duration(fallback: string, description: string) {
  return z
    .string()
    .regex(DURATION_PATTERN, 'must be a duration such as 30s, 5m or 1h30m')
    .refine((text) => !DURATION_PATTERN.test(text) || parseDuration(text) > 0, 'must be longer than zero')
    .default(fallback)
    .describe(description);
}

export const secretKeySelectorSchema = z
  .object({
    name: objectName.describe('The Secret in the SchemaMigration namespace.'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(SECRET_KEY_PATTERN, 'must be a Secret data key')
      .describe('The key.'),
  })
  .describe('A key of a Secret.');

export const databaseSchema = z
  .object({
    urlFrom: z
      .object({ secretKeyRef: secretKeySelectorSchema })
      .describe('Where the postgres:// URL comes from. The URL is never logged nor put on a command line.'),
    migrationsTable: z
      .string()
      .min(1)
      .max(63)
      .default('pgmigrations')
      .describe('node-pg-migrate table name.'),
    migrationsSchema: z.string().min(1).max(63).default('public').describe('Schema of the migrations table.'),
  })
  .describe('The database to migrate.');

export const migrationsSourceSchema = z
  .object({
    configMaps: z
      .array(z.object({ name: objectName }))
      .min(1)
      .optional()
      .describe('ConfigMaps whose keys are node-pg-migrate SQL files (<number>_<name>.sql).'),
    selector: z
      .object({
        matchLabels: z.record(z.string(), z.string()).describe('Labels every selected ConfigMap carries.'),
      })
      .optional()
      .describe('Selects the ConfigMaps holding the migration files by label.'),
  })
  .refine((source) => (source.configMaps === undefined) !== (source.selector === undefined), {
    message: 'set exactly one of configMaps or selector',
  })
  .meta({
    description: 'Where the migration files are: exactly one of configMaps or selector.',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.configMaps) != has(self.selector)',
        message: 'set exactly one of configMaps or selector',
      },
    ],
  });

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet'] as const;
export const SCALE_DOWN = ['Always', 'Auto'] as const;

export const workloadSchema = z
  .object({
    kind: z.enum(WORKLOAD_KINDS).describe('Deployment or StatefulSet.'),
    name: objectName.describe('The workload in the SchemaMigration namespace.'),
    scaleDown: z
      .enum(SCALE_DOWN)
      .default('Always')
      .describe(
        'Always: every run scales the workload to 0. Auto: a plan that is safe online (additive, no long blocking lock; see status.plan.online) runs with the workload up.',
      ),
  })
  .describe('The application scaled to zero during the migration; omit for online migrations.');

export const BACKUP_VERIFY = ['Read', 'Restore'] as const;

/** A resource quantity such as 1, "500m" or "2Gi". */
const quantity = z.union([z.string().min(1), z.number()]).meta({ 'x-kubernetes-int-or-string': true });

const resourcesSchema = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .meta({
    description: 'Container resources (cpu, memory, ephemeral-storage), as in a pod spec.',
  });

const tolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.int().optional(),
});

const keyRef = z.object({ name: objectName, key: z.string().min(1).max(253).regex(SECRET_KEY_PATTERN) });

const caBundleSchema = z
  .object({
    configMapKeyRef: keyRef.optional().describe('A ConfigMap key holding the PEM bundle.'),
    secretKeyRef: keyRef.optional().describe('A Secret key holding the PEM bundle.'),
  })
  .refine((ca) => (ca.configMapKeyRef === undefined) !== (ca.secretKeyRef === undefined), {
    message: 'set exactly one of configMapKeyRef or secretKeyRef',
  })
  .meta({
    description:
      'The CA certificates the backup and restore Jobs trust for sslmode=verify-ca/verify-full (PGSSLROOTCERT).',
    'x-kubernetes-validations': [
      {
        rule: 'has(self.configMapKeyRef) != has(self.secretKeyRef)',
        message: 'set exactly one of configMapKeyRef or secretKeyRef',
      },
    ],
  });

export const backupSchema = z
  .object({
    pvc: objectName.describe('The PersistentVolumeClaim the dumps are written to.'),
    image: z
      .string()
      .min(1)
      .default('postgres:16')
      .describe('Image with pg_dump; its major must be >= the server major.'),
    retain: z.int().min(1).max(1000).default(5).describe('How many dumps of this SchemaMigration to keep.'),
    jobTTL: duration(
      '24h',
      'How long a finished backup Job and its pod (with its logs) stay before Kubernetes deletes them.',
    ),
    verify: z
      .enum(BACKUP_VERIFY)
      .default('Read')
      .describe(
        'Read: every row of the dump is read back and counted per table. Restore: also restore it into a scratch database and compare the counts before any SQL runs (needs CREATEDB).',
      ),
    compression: z
      .string()
      .regex(
        /^(auto|none|(gzip|lz4|zstd)(:[0-9]{1,2})?)$/,
        'must be auto, none, or gzip, lz4 or zstd with an optional :level',
      )
      .default('auto')
      .describe(
        "pg_dump's compression: auto (zstd level 1 where pg_dump is 16 or newer, gzip level 1 otherwise), none, or gzip|lz4|zstd[:level] (lz4 and zstd need pg_dump 16).",
      ),
    resources: resourcesSchema
      .optional()
      .describe('Requests and limits of the backup and restore containers.'),
    nodeSelector: z
      .record(z.string(), z.string())
      .optional()
      .describe('Where the backup and restore pods run.'),
    tolerations: z.array(tolerationSchema).optional().describe('Tolerations of the backup and restore pods.'),
    podAnnotations: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'Annotations on the backup and restore pods (for example, to keep a service-mesh sidecar out).',
      ),
    caBundle: caBundleSchema.optional(),
  })
  .describe('A pg_dump before each run, and what restores read; omit to skip the backup.');

export const APPROVALS = ['Automatic', 'Manual', 'Destructive'] as const;
export type Approval = (typeof APPROVALS)[number];
export const ON_FAILURE = ['RestoreWorkload', 'KeepWorkloadDown', 'RestoreBackup'] as const;

export const policySchema = z
  .object({
    approval: z
      .enum(APPROVALS)
      .default('Automatic')
      .describe(
        'Automatic, Manual (every plan waits for schemaops.dev/approve: <plan hash>) or Destructive (plans that go down or drop data wait).',
      ),
    onFailure: z
      .enum(ON_FAILURE)
      .default('RestoreWorkload')
      .describe(
        "After a failed run: RestoreWorkload (scale the workload back), KeepWorkloadDown, or RestoreBackup (when the run committed part of its plan, restore the run's backup, then scale back).",
      ),
    allowDataLoss: z.boolean().default(false).describe('Allow plans that drop tables, columns or data.'),
  })
  .prefault({})
  .describe('How runs are approved and what a failure does.');

export const timeoutsSchema = z
  .object({
    scaleDown: duration('5m', 'How long the workload may take to reach zero pods.'),
    scaleUp: duration(
      '5m',
      'How long the workload may take to have its recorded replicas available again; reported when it runs out.',
    ),
    backup: duration('30m', 'The backup Job deadline (activeDeadlineSeconds).'),
    migration: duration(
      '30m',
      'The migrate step, counted from its start: held locks and lost connections are retried until then.',
    ),
    lock: duration('2s', 'PostgreSQL lock_timeout; a lock timeout is retried with backoff.'),
    statement: duration('10m', 'PostgreSQL statement_timeout.'),
  })
  .prefault({})
  .describe('Durations such as 30s, 5m or 1h30m.');

export const specSchema = z
  .object({
    targetRevision: z
      .string()
      .min(1)
      .max(253)
      .describe('A migration name (its file name without .sql), "latest" or "base".'),
    database: databaseSchema,
    migrations: migrationsSourceSchema,
    workload: workloadSchema.optional(),
    backup: backupSchema.optional(),
    policy: policySchema,
    timeouts: timeoutsSchema,
    suspend: z.boolean().default(false).describe('Stop all action until set back to false.'),
  })
  .describe('The database and the schema revision it should be at.');

/** A spec after validation, with every default filled in. */
export type SchemaMigrationSpec = z.output<typeof specSchema>;
/** A spec as a user writes it. */
export type SchemaMigrationSpecInput = z.input<typeof specSchema>;
export type SecretKeySelector = z.output<typeof secretKeySelectorSchema>;
export type WorkloadRef = z.output<typeof workloadSchema>;
export type WorkloadKind = WorkloadRef['kind'];
export type BackupSpec = z.output<typeof backupSchema>;
export type Policy = z.output<typeof policySchema>;
export type Timeouts = z.output<typeof timeoutsSchema>;
export type MigrationsSource = z.output<typeof migrationsSourceSchema>;

/** The spec's timeouts in milliseconds. */
export function timeoutsInMilliseconds(timeouts: Timeouts): Record<keyof Timeouts, number> {
  return {
    scaleDown: parseDuration(timeouts.scaleDown),
    scaleUp: parseDuration(timeouts.scaleUp),
    backup: parseDuration(timeouts.backup),
    migration: parseDuration(timeouts.migration),
    lock: parseDuration(timeouts.lock),
    statement: parseDuration(timeouts.statement),
  };
}

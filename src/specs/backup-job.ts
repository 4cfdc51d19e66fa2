import type { V1Container, V1EnvVar, V1Job, V1OwnerReference, V1PodSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { BackupSpec, SecretKeySelector } from '../api/v1alpha1/spec.js';
import { parseDuration } from '../duration.js';

/** The postgres image's postgres user and group. */
export const POSTGRES_UID = 999;
export const BACKUP_CONTAINER = 'backup';
export const BACKUP_MOUNT_PATH = '/backups';
const TERMINATION_LOG = '/dev/termination-log';
const JOB_NAME_MAX = 63;
const SHORT_HASH_LENGTH = 10;

/** The SchemaMigration a backup Job belongs to. */
export interface OwnerRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export interface BackupJobInput {
  readonly migration: OwnerRef;
  /** The plan hash, `sha256:<hex>` or bare hex; the Job name and label carry its first 10 hex chars. */
  readonly planHash: string;
  readonly backup: BackupSpec;
  /** Where the database URL is; it reaches the container only through this reference. */
  readonly databaseSecret: SecretKeySelector;
  /** timeouts.backup in seconds: the Job's activeDeadlineSeconds. */
  readonly timeoutSeconds: number;
  /** Stamps the dump file name. */
  readonly now: Date;
  /** The name the run recorded for its Job; derived from the plan hash when absent. */
  readonly jobName?: string;
}

/** What the backup container writes to its termination message (and stdout) on success. */
export interface BackupSummary {
  readonly file: string;
  readonly sizeBytes: number;
}

/**
 * The backup, for plain /bin/sh (dash) and coreutils. The URL stays in the environment; the dump is
 * written beside its final name and renamed once pg_restore can read it, so a listed .dump is whole.
 * File names sort by time, so pruning keeps the newest RETAIN by name.
 */
export const BACKUP_SCRIPT = `set -eu
export LC_ALL=C
: "\${TERMINATION_LOG:=${TERMINATION_LOG}}"
case "$RETAIN" in ''|*[!0-9]*|0) echo "RETAIN must be a positive integer, not '$RETAIN'" >&2; exit 2 ;; esac
partial="$BACKUP_DIR/$BACKUP_FILE.partial"
final="$BACKUP_DIR/$BACKUP_FILE"
trap 'rm -f -- "$partial"' EXIT
trap 'exit 143' TERM INT
echo "pg_dump to $BACKUP_FILE" >&2
pg_dump --format=custom --no-password --file "$partial" "$DATABASE_URL"
pg_restore --list "$partial" > /dev/null
mv -f -- "$partial" "$final"
set -- "$BACKUP_DIR/$BACKUP_PREFIX"-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z.dump
excess=$(($# - RETAIN))
while [ "$excess" -gt 0 ]; do
  echo "pruning \${1##*/}" >&2
  rm -f -- "$1"
  shift
  excess=$((excess - 1))
done
size=$(wc -c < "$final" | tr -d ' ')
summary="{\\"file\\":\\"$BACKUP_FILE\\",\\"sizeBytes\\":$size}"
printf '%s\\n' "$summary" > "$TERMINATION_LOG"
printf '%s\\n' "$summary"
`;

/** The first 10 hex characters of a plan hash, with or without its `sha256:` prefix. */
export function shortPlanHash(planHash: string): string {
  const hex = planHash.replace(/^[a-z0-9]+:/, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length < SHORT_HASH_LENGTH) {
    throw new Error(`plan hash "${planHash}" is not sha256:<hex>`);
  }
  return hex.slice(0, SHORT_HASH_LENGTH);
}

/** A DNS-1123 label: lower case alphanumerics and "-", starting and ending alphanumeric. */
function dnsLabel(text: string, max: number): string {
  const cleaned = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return cleaned.slice(0, max).replace(/^-+|-+$/g, '');
}

/** `<migration>-backup-<10 hex of the plan hash>`, at most 63 characters: one Job per plan. */
export function backupJobName(migrationName: string, planHash: string): string {
  const suffix = `-backup-${shortPlanHash(planHash)}`;
  return `${dnsLabel(migrationName, JOB_NAME_MAX - suffix.length) || 'schemamigration'}${suffix}`;
}

/** `YYYYMMDDTHHMMSSZ` in UTC. */
export function backupTimestamp(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** `<migration>-<YYYYMMDDTHHMMSSZ>.dump`, the name the dump gets on the PVC. */
export function backupFileName(migrationName: string, now: Date): string {
  return `${migrationName}-${backupTimestamp(now)}.dump`;
}

/** Reads the container's termination message; undefined when it is not a backup summary. */
export function parseBackupSummary(message: string | undefined): BackupSummary | undefined {
  const line = message?.trim().split('\n').at(-1);
  if (!line?.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<BackupSummary>;
    if (typeof value.file !== 'string' || typeof value.sizeBytes !== 'number') return undefined;
    return { file: value.file, sizeBytes: value.sizeBytes };
  } catch {
    return undefined;
  }
}

/** Label values are at most 63 characters and end alphanumeric. */
function labelValue(text: string): string {
  return text.slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
}

export function backupJobLabels(migrationName: string, planHash: string): Record<string, string> {
  return {
    [Label.managedBy]: MANAGED_BY,
    [Label.component]: 'backup',
    [Label.migration]: labelValue(migrationName),
    [Label.planHash]: shortPlanHash(planHash),
  };
}

function ownerReference(migration: OwnerRef): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: migration.name,
    uid: migration.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function backupEnv(input: BackupJobInput): V1EnvVar[] {
  return [
    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { ...input.databaseSecret } } },
    { name: 'BACKUP_DIR', value: BACKUP_MOUNT_PATH },
    { name: 'BACKUP_PREFIX', value: input.migration.name },
    { name: 'BACKUP_FILE', value: backupFileName(input.migration.name, input.now) },
    { name: 'RETAIN', value: String(input.backup.retain) },
    // A dead host should fail the Job quickly, not at the deadline.
    { name: 'PGCONNECT_TIMEOUT', value: '30' },
  ];
}

function backupContainer(input: BackupJobInput): V1Container {
  return {
    name: BACKUP_CONTAINER,
    image: input.backup.image,
    command: ['/bin/sh', '-c', BACKUP_SCRIPT],
    env: backupEnv(input),
    volumeMounts: [
      { name: 'backups', mountPath: BACKUP_MOUNT_PATH },
      { name: 'tmp', mountPath: '/tmp' },
    ],
    terminationMessagePath: TERMINATION_LOG,
    // On failure the message is the log tail, which names the pg_dump error.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

function backupPodSpec(input: BackupJobInput): V1PodSpec {
  return {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: POSTGRES_UID,
      runAsGroup: POSTGRES_UID,
      // Lets the postgres user write to the PVC whatever its owner.
      fsGroup: POSTGRES_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [backupContainer(input)],
    volumes: [
      { name: 'backups', persistentVolumeClaim: { claimName: input.backup.pvc } },
      { name: 'tmp', emptyDir: {} },
    ],
  };
}

/** The Job that dumps the database to the backup PVC before a run: one per plan, owned by the SchemaMigration. */
export function buildBackupJob(input: BackupJobInput): V1Job {
  const labels = backupJobLabels(input.migration.name, input.planHash);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.jobName ?? backupJobName(input.migration.name, input.planHash),
      namespace: input.migration.namespace,
      labels,
      ownerReferences: [ownerReference(input.migration)],
    },
    spec: {
      // A failed dump is reported, not retried: the reconciler applies policy.onFailure.
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(input.timeoutSeconds)),
      // Finished Jobs and their pods do not pile up, one per run: Kubernetes' TTL controller removes them.
      ttlSecondsAfterFinished: Math.ceil(parseDuration(input.backup.jobTTL) / 1000),
      template: { metadata: { labels }, spec: backupPodSpec(input) },
    },
  };
}

import type { V1Container, V1EnvVar, V1Job, V1OwnerReference, V1PodSpec } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { BackupSpec, SecretKeySelector } from '../api/v1alpha1/spec.js';
import { parseDuration } from '../duration.js';

/** The postgres image's postgres user and group. */
export const POSTGRES_UID = 999;
export const BACKUP_CONTAINER = 'backup';
export const BACKUP_MOUNT_PATH = '/backups';
/** A private in-memory directory for the libpq service and pgpass files the script writes. */
export const CONNECTION_MOUNT_PATH = '/run/schemaops';
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
 * Turns DATABASE_URL into a libpq service file and a pgpass file (mode 0600, in CONNECTION_DIR), exports
 * PGSERVICEFILE, PGSERVICE and PGPASSFILE and unsets DATABASE_URL, so that nothing started afterwards has a
 * connection parameter in its argv or the URL in its environment. Only shell builtins touch the URL.
 * libpq reads a URI only as a command-line or conninfo dbname (not from PGDATABASE or a service file), so the
 * URL is split here as libpq splits it: user:password@host:port,…/dbname?params, each part %-decoded; query
 * parameters (sslmode, application_name, …) go to the service file as they are, and take precedence.
 */
export const CONNECTION_SCRIPT = `url_error() { echo "the database URL $1" >&2; exit 2; }
percent_decode() {
  rest=$1 out=
  while :; do
    case "$rest" in *%*) ;; *) break ;; esac
    out=$out\${rest%%\\%*}
    rest=\${rest#*%}
    hex=\${rest%"\${rest#??}"}
    case "$hex" in [0-9A-Fa-f][0-9A-Fa-f]) ;; *) url_error "has a malformed %-escape" ;; esac
    case "$hex" in 00 | 0[aAdD]) url_error "has a NUL or line break in it" ;; esac
    rest=\${rest#??}
    out=$out$(printf "\\\\$(printf '%03o' "0x$hex")")
  done
  printf '%s' "$out$rest"
}
pgpass_escape() {
  rest=$1 out=
  while :; do
    case "$rest" in *[\\\\:]*) ;; *) break ;; esac
    head=\${rest%%[\\\\:]*}
    rest=\${rest#"$head"}
    out=$out$head\\\\\${rest%"\${rest#?}"}
    rest=\${rest#?}
  done
  printf '%s' "$out$rest"
}
url=\${DATABASE_URL-}
unset DATABASE_URL
case "$url" in
  postgres://*) url=\${url#postgres://} ;;
  postgresql://*) url=\${url#postgresql://} ;;
  *) url_error "is not a postgres:// or postgresql:// URL" ;;
esac
umask 077
export PGSERVICEFILE="$CONNECTION_DIR/pg_service.conf" PGPASSFILE="$CONNECTION_DIR/pgpass" PGSERVICE=backup
printf '[backup]\\n' > "$PGSERVICEFILE"
: > "$PGPASSFILE"
userinfo=
case "\${url%%/*}" in *@*) userinfo=\${url%%@*} url=\${url#*@} ;; esac
hosts=\${url%%[/?]*}
url=\${url#"$hosts"}
dbname=
case "$url" in /*) dbname=\${url#/} dbname=\${dbname%%\\?*} ;; esac
query=
case "$url" in *\\?*) query=\${url#*\\?} ;; esac
password=
while [ -n "$query" ]; do
  pair=\${query%%&*}
  case "$query" in *\\&*) query=\${query#*&} ;; *) query= ;; esac
  case "$pair" in *=*) ;; *) url_error "has a query parameter without a value" ;; esac
  key=$(percent_decode "\${pair%%=*}")
  value=$(percent_decode "\${pair#*=}")
  case "$key" in '' | *[!a-z_]*) url_error "has a query parameter that is not a libpq keyword" ;; esac
  case "$key=$value" in
    password=*) password=$value ;;
    ssl=true) printf 'sslmode=require\\n' >> "$PGSERVICEFILE" ;;
    *) printf '%s=%s\\n' "$key" "$value" >> "$PGSERVICEFILE" ;;
  esac
done
host_list= port_list= any_port= separator=
while [ -n "$hosts" ]; do
  item=\${hosts%%,*}
  case "$hosts" in *,*) hosts=\${hosts#*,} ;; *) hosts= ;; esac
  case "$item" in
    \\[*\\]*) host=\${item#\\[} host=\${host%%\\]*} port=\${item#*\\]} port=\${port#:} ;;
    *:*) host=\${item%%:*} port=\${item#*:} ;;
    *) host=$item port= ;;
  esac
  case "$port" in *[!0-9]*) url_error "has a port that is not a number" ;; ?*) any_port=1 ;; esac
  host=$(percent_decode "$host")
  host_list=$host_list$separator$host port_list=$port_list$separator$port separator=,
done
user=\${userinfo%%:*}
user=$(percent_decode "$user")
dbname=$(percent_decode "$dbname")
case "$userinfo" in *:*) password=$(percent_decode "\${userinfo#*:}") ;; esac
password=$(pgpass_escape "$password")
if [ -n "$host_list" ]; then printf 'host=%s\\n' "$host_list" >> "$PGSERVICEFILE"; fi
if [ -n "$any_port" ]; then printf 'port=%s\\n' "$port_list" >> "$PGSERVICEFILE"; fi
if [ -n "$dbname" ]; then printf 'dbname=%s\\n' "$dbname" >> "$PGSERVICEFILE"; fi
if [ -n "$user" ]; then printf 'user=%s\\n' "$user" >> "$PGSERVICEFILE"; fi
if [ -n "$password" ]; then printf '*:*:*:*:%s\\n' "$password" > "$PGPASSFILE"; fi
unset url userinfo password query pair key value rest out
`;

/**
 * The backup, for plain /bin/sh (dash) and coreutils. The connection comes from CONNECTION_SCRIPT's files,
 * never argv; the dump is written beside its final name and renamed once pg_restore can read it, so a listed
 * .dump is whole. File names sort by time, so pruning keeps the newest RETAIN by name.
 */
export const BACKUP_SCRIPT = `set -eu
export LC_ALL=C
: "\${TERMINATION_LOG:=${TERMINATION_LOG}}"
case "$RETAIN" in ''|*[!0-9]*|0) echo "RETAIN must be a positive integer, not '$RETAIN'" >&2; exit 2 ;; esac
partial="$BACKUP_DIR/$BACKUP_FILE.partial"
final="$BACKUP_DIR/$BACKUP_FILE"
trap 'rm -f -- "$partial" "$CONNECTION_DIR/pg_service.conf" "$CONNECTION_DIR/pgpass"' EXIT
trap 'exit 143' TERM INT
${CONNECTION_SCRIPT}echo "pg_dump to $BACKUP_FILE" >&2
pg_dump --format=custom --no-password --file "$partial"
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
    { name: 'CONNECTION_DIR', value: CONNECTION_MOUNT_PATH },
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
      { name: 'connection', mountPath: CONNECTION_MOUNT_PATH },
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
      // The password is written here: memory, never the node's disk.
      { name: 'connection', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
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

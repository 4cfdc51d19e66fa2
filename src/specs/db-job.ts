import type {
  V1Container,
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PodSpec,
  V1ResourceRequirements,
} from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/group.js';
import type { BackupSpec, SecretKeySelector } from '../api/v1alpha1/spec.js';
import { parseDuration } from '../duration.js';

/** The postgres image's postgres user and group. */
export const POSTGRES_UID = 999;
export const BACKUP_MOUNT_PATH = '/backups';
/** A private in-memory directory for the libpq service and pgpass files the script writes. */
export const CONNECTION_MOUNT_PATH = '/run/schemaops';
/** Where a CA bundle (backup.caBundle) is mounted; PGSSLROOTCERT points at it. */
export const CA_MOUNT_PATH = '/etc/schemaops/ca';
export const TERMINATION_LOG = '/dev/termination-log';
/** The termination message Kubernetes keeps is at most 4096 bytes; a summary stays below this. */
export const SUMMARY_LIMIT = 3500;

/** The SchemaMigration a Job belongs to. */
export interface OwnerRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
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

/** Label values are at most 63 characters and end alphanumeric. */
export function labelValue(text: string): string {
  return text.slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
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

/** What a Job running pg_dump, pg_restore or psql against the database needs. */
export interface DatabaseJobInput {
  readonly name: string;
  readonly migration: OwnerRef;
  readonly labels: Record<string, string>;
  /** The container name; also what the kubelet reports the termination message under. */
  readonly container: string;
  readonly backup: BackupSpec;
  /** Where the database URL is; it reaches the container only through this reference. */
  readonly databaseSecret: SecretKeySelector;
  readonly script: string;
  /** Literal environment besides the URL and the mount paths. */
  readonly env: Record<string, string>;
  /** The Job's activeDeadlineSeconds. */
  readonly timeoutSeconds: number;
}

function environment(input: DatabaseJobInput): V1EnvVar[] {
  const ca = input.backup.caBundle;
  return [
    { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { ...input.databaseSecret } } },
    { name: 'CONNECTION_DIR', value: CONNECTION_MOUNT_PATH },
    { name: 'BACKUP_DIR', value: BACKUP_MOUNT_PATH },
    ...Object.entries(input.env).map(([name, value]) => ({ name, value })),
    // A dead host should fail the Job quickly, not at the deadline.
    { name: 'PGCONNECT_TIMEOUT', value: '30' },
    ...(ca ? [{ name: 'PGSSLROOTCERT', value: `${CA_MOUNT_PATH}/${caKey(ca)}` }] : []),
  ];
}

function caKey(ca: NonNullable<BackupSpec['caBundle']>): string {
  return (ca.configMapKeyRef ?? ca.secretKeyRef)?.key ?? 'ca.crt';
}

/** Quantities as the API's Go client writes them: strings. */
function quantities(resources: NonNullable<BackupSpec['resources']>): V1ResourceRequirements {
  const strings = (list?: Record<string, string | number>) =>
    list && Object.fromEntries(Object.entries(list).map(([name, value]) => [name, String(value)]));
  return {
    ...(resources.requests ? { requests: strings(resources.requests) } : {}),
    ...(resources.limits ? { limits: strings(resources.limits) } : {}),
  };
}

function container(input: DatabaseJobInput): V1Container {
  const { resources, caBundle } = input.backup;
  return {
    name: input.container,
    image: input.backup.image,
    command: ['/bin/sh', '-c', input.script],
    env: environment(input),
    ...(resources ? { resources: quantities(resources) } : {}),
    volumeMounts: [
      { name: 'backups', mountPath: BACKUP_MOUNT_PATH },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'connection', mountPath: CONNECTION_MOUNT_PATH },
      ...(caBundle ? [{ name: 'ca', mountPath: CA_MOUNT_PATH, readOnly: true }] : []),
    ],
    terminationMessagePath: TERMINATION_LOG,
    // On failure the message is the log tail, which names the pg_dump, pg_restore or psql error.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

function caVolume(ca: NonNullable<BackupSpec['caBundle']>) {
  if (ca.secretKeyRef)
    return {
      name: 'ca',
      secret: {
        secretName: ca.secretKeyRef.name,
        items: [{ key: ca.secretKeyRef.key, path: ca.secretKeyRef.key }],
      },
    };
  const ref = ca.configMapKeyRef!;
  return { name: 'ca', configMap: { name: ref.name, items: [{ key: ref.key, path: ref.key }] } };
}

function podSpec(input: DatabaseJobInput): V1PodSpec {
  const { nodeSelector, tolerations, caBundle } = input.backup;
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
    ...(nodeSelector ? { nodeSelector } : {}),
    ...(tolerations ? { tolerations } : {}),
    containers: [container(input)],
    volumes: [
      { name: 'backups', persistentVolumeClaim: { claimName: input.backup.pvc } },
      { name: 'tmp', emptyDir: {} },
      // The password is written here: memory, never the node's disk.
      { name: 'connection', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
      ...(caBundle ? [caVolume(caBundle)] : []),
    ],
  };
}

/** A Job that runs one script against the database with the backup PVC mounted, owned by the SchemaMigration. */
export function buildDatabaseJob(input: DatabaseJobInput): V1Job {
  const annotations = input.backup.podAnnotations;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name,
      namespace: input.migration.namespace,
      labels: input.labels,
      ownerReferences: [ownerReference(input.migration)],
    },
    spec: {
      // A failure is reported, not retried: the reconciler decides what follows.
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(input.timeoutSeconds)),
      // Finished Jobs and their pods do not pile up: Kubernetes' TTL controller removes them.
      ttlSecondsAfterFinished: Math.ceil(parseDuration(input.backup.jobTTL) / 1000),
      template: {
        metadata: { labels: input.labels, ...(annotations ? { annotations } : {}) },
        spec: podSpec(input),
      },
    },
  };
}

/** The first line of a termination message: the JSON summary a Job's script writes when it succeeds. */
export function summaryLine(message: string | undefined): Record<string, unknown> | undefined {
  const line = message?.trim().split('\n')[0];
  if (!line?.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

import type { V1Job } from '@kubernetes/client-node';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { BackupSpec, SecretKeySelector } from '../api/v1alpha1/spec.js';
import {
  buildDatabaseJob,
  CONNECTION_SCRIPT,
  labelValue,
  SUMMARY_LIMIT,
  summaryLine,
  TERMINATION_LOG,
  type OwnerRef,
} from './db-job.js';
import { CLOSURE_FUNCTION, DUMP_FUNCTIONS } from './dump-scripts.js';

export { CONNECTION_SCRIPT, type OwnerRef } from './db-job.js';

export const BACKUP_CONTAINER = 'backup';
const JOB_NAME_MAX = 63;
const SHORT_HASH_LENGTH = 10;

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
  /** A dump the pruning must leave in place (the one a restore is about to read). */
  readonly protect?: string;
  /**
   * Dump only these relations (quoted, schema-qualified names) and what hangs on them, into
   * `<migration>-<time>.tables.dump`; the Job falls back to a full dump when that cannot be restored alone.
   */
  readonly tables?: readonly string[];
  /** Why the backup while down is a full one (the tables a plan touches cannot be told): said in its summary. */
  readonly fallback?: string;
}

/** One table's rows in a dump. */
export interface TableRows {
  readonly table: string;
  readonly rows: number;
}

/** What the backup container writes to its termination message (and stdout) on success. */
export interface BackupSummary {
  readonly file: string;
  readonly sizeBytes: number;
  /** sha256 of the `<file>.counts` file beside the dump: a restore checks against exactly these counts. */
  readonly countsSha256: string;
  readonly tables: number;
  readonly rows: number;
  /** Read: every row was read back from the dump; Restore: it also restored into a scratch database. */
  readonly verified: 'Read' | 'Restore';
  /** pg_dump's --compress value it ran with. */
  readonly compression?: string;
  /** full, or tables: only the relations in `<file>.relations` (sha256 relationsSha256). */
  readonly scope: 'full' | 'tables';
  readonly relationsSha256?: string;
  /** Why a table-scoped backup was taken whole instead. */
  readonly fallback?: string;
  /** Older dumps the Job deleted to keep `retain`. */
  readonly pruned: readonly string[];
  /** Each table's rows, when the list fits in the termination message. */
  readonly tableRows?: readonly TableRows[];
}

/**
 * COMPRESSION (backup.compression) as pg_dump's --compress: `auto` is zstd level 1 where pg_dump has it (16 and
 * later), gzip level 1 otherwise; `none`; or `method[:level]`. pg_dump before 16 knows only gzip levels.
 */
const COMPRESSION_SCRIPT = String.raw`major=$(pg_dump --version | sed -n 's/^pg_dump (PostgreSQL) \([0-9][0-9]*\).*/\1/p')
[ -n "$major" ] || major=0
case "${'${'}COMPRESSION:-auto}" in
  auto) if [ "$major" -ge 16 ]; then compress=zstd:1; else compress=gzip:1; fi ;;
  none) compress=none ;;
  gzip | lz4 | zstd) compress=$COMPRESSION ;;
  gzip:[1-9] | lz4:[1-9] | zstd:[1-9] | lz4:1[0-2] | zstd:1[0-9] | zstd:2[0-2]) compress=$COMPRESSION ;;
  *) echo "backup.compression '$COMPRESSION' is not auto, none or gzip|lz4|zstd[:level]" >&2; exit 2 ;;
esac
compress_arg=$compress
if [ "$major" -lt 16 ]; then
  case "$compress" in
    none) compress_arg=0 ;;
    gzip) compress_arg=6 ;;
    gzip:*) compress_arg=${'${'}compress#gzip:} ;;
    *) echo "backup.compression $compress needs pg_dump 16 or newer; this image has pg_dump $major" >&2; exit 2 ;;
  esac
fi
`;

/**
 * The backup, for plain /bin/sh (dash), coreutils and awk. The connection comes from CONNECTION_SCRIPT's files,
 * never argv. The dump is written beside its final name; it is renamed, and older ones pruned, only once every
 * row of it was read back (the per-table counts, from the dump's own snapshot) and, with VERIFY=Restore, once it
 * restored into a scratch database with those counts. File names sort by time, so pruning keeps the newest
 * RETAIN by name; PROTECT names a file that is never pruned (the one a restore is about to read).
 */
export const BACKUP_SCRIPT = String.raw`set -eu
export LC_ALL=C
: "${'${'}TERMINATION_LOG:=${TERMINATION_LOG}}"
case "$RETAIN" in ''|*[!0-9]*|0) echo "RETAIN must be a positive integer, not '$RETAIN'" >&2; exit 2 ;; esac
partial="$BACKUP_DIR/$BACKUP_FILE.partial"
final="$BACKUP_DIR/$BACKUP_FILE"
drill=
work=
cleanup() {
  if [ -n "$drill" ]; then psql -X -q --no-password -c "DROP DATABASE IF EXISTS \"$drill\"" > /dev/null 2>&1 || true; fi
  rm -f -- "$partial" "$partial.counts" "$partial.relations" "$CONNECTION_DIR/pg_service.conf" "$CONNECTION_DIR/pgpass"
  [ -z "$work" ] || rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# A dump on the PVC is never written over: a name taken already fails the Job before anything is dumped.
if [ -e "$final" ]; then echo "$BACKUP_FILE exists on the backup volume already; it is not overwritten" >&2; exit 1; fi
${CONNECTION_SCRIPT}${COMPRESSION_SCRIPT}${DUMP_FUNCTIONS}${CLOSURE_FUNCTION}work=$(mktemp -d)
scope=full
fallback=${'${'}FALLBACK:-}
if [ "${'${'}SCOPE:-full}" = tables ]; then
  printf '%s\n' "${'${'}TOUCHED:-}" > "$work/touched"
  touched_closure "$work/touched" "$work/closure"
  case "$(head -n 1 "$work/closure")" in
    FALLBACK\ *) fallback=$(head -n 1 "$work/closure" | cut -c 10-); echo "a full dump instead: $fallback" >&2 ;;
    *) scope=tables ;;
  esac
fi
if [ "$scope" = tables ]; then
  set --
  while IFS= read -r relation; do [ -z "$relation" ] || set -- "$@" "--table=$relation"; done < "$work/closure"
  # No relation at all (a plan that only creates): an empty archive, every schema left out.
  [ "$#" -gt 0 ] || set -- "--exclude-schema=*"
  echo "pg_dump of $(grep -c . "$work/closure" || true) relation(s) the plan touches, and what hangs on them, to $BACKUP_FILE ($compress)" >&2
  pg_dump --format=custom --compress="$compress_arg" --no-password --strict-names "$@" --file "$partial"
  cp -- "$work/closure" "$partial.relations"
else
  echo "pg_dump to $BACKUP_FILE ($compress)" >&2
  pg_dump --format=custom --compress="$compress_arg" --no-password --file "$partial"
fi
pg_restore --list "$partial" > /dev/null
echo "reading every row of $BACKUP_FILE back" >&2
count_rows "$partial" "$partial.counts"
verified=Read
if [ "${'${'}VERIFY:-Read}" = Restore ] && [ "$scope" = full ]; then
  drill="schemaops_drill_$(date -u +%Y%m%d%H%M%S)_$$"
  echo "restore drill: $BACKUP_FILE into the scratch database $drill" >&2
  psql -X -q -v ON_ERROR_STOP=1 --no-password -c "CREATE DATABASE \"$drill\""
  pg_restore --exit-on-error --single-transaction --no-owner --no-acl --no-password \
    --dbname "service=$PGSERVICE dbname=$drill" "$partial"
  row_checks "$partial.counts" |
    psql -X -q -v ON_ERROR_STOP=1 --no-password -o /dev/null --dbname "service=$PGSERVICE dbname=$drill" -f -
  psql -X -q -v ON_ERROR_STOP=1 --no-password -c "DROP DATABASE \"$drill\""
  drill=
  verified=Restore
  echo "restore drill passed: every table has the rows the dump holds" >&2
fi
mv -f -- "$partial.counts" "$final.counts"
relations_sha=
if [ "$scope" = tables ]; then
  mv -f -- "$partial.relations" "$final.relations"
  relations_sha=$(sha256sum < "$final.relations" | cut -d ' ' -f 1)
fi
mv -f -- "$partial" "$final"
# Full and table-scoped dumps are kept to RETAIN each: the parts of runs never push a whole backup out.
stamp=[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z
if [ "$scope" = tables ]; then
  set -- "$BACKUP_DIR/$BACKUP_PREFIX"-$stamp.tables.dump
else
  set -- "$BACKUP_DIR/$BACKUP_PREFIX"-$stamp.dump
fi
kept=0
for f in "$@"; do [ "${'${'}f##*/}" = "${'${'}PROTECT:-}" ] || kept=$((kept + 1)); done
excess=$((kept - RETAIN))
pruned=
for f in "$@"; do
  [ "$excess" -gt 0 ] || break
  [ "${'${'}f##*/}" != "${'${'}PROTECT:-}" ] || continue
  echo "pruning ${'${'}f##*/}" >&2
  rm -f -- "$f" "$f.counts" "$f.relations"
  pruned="$pruned${'${'}pruned:+,}\"${'${'}f##*/}\""
  excess=$((excess - 1))
done
size=$(wc -c < "$final" | tr -d ' ')
sha=$(sha256sum < "$final.counts" | cut -d ' ' -f 1)
summary="{\"file\":\"$BACKUP_FILE\",\"sizeBytes\":$size,\"compression\":\"$compress\",\"countsSha256\":\"$sha\",$(counts_totals "$final.counts"),\"verified\":\"$verified\",\"scope\":\"$scope\",\"relationsSha256\":\"$relations_sha\",\"fallback\":\"$(printf '%s' "$fallback" | tr -d '"\\\\')\",\"pruned\":[$pruned]}"
{
  printf '%s\n' "$summary"
  if [ $(( ${'${'}#summary} + $(wc -c < "$final.counts") )) -lt ${SUMMARY_LIMIT} ]; then cat "$final.counts"; fi
} > "$TERMINATION_LOG"
printf '%s\n' "$summary"
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

/** `<migration>-<YYYYMMDDTHHMMSSZ>.dump` (`.tables.dump` for a table-scoped one), its name on the PVC. */
export function backupFileName(migrationName: string, now: Date, scope: 'full' | 'tables' = 'full'): string {
  return `${migrationName}-${backupTimestamp(now)}${scope === 'tables' ? '.tables' : ''}.dump`;
}

/** The `<rows>\t<table>` lines after a summary's JSON line. */
export function parseTableRows(lines: readonly string[]): TableRows[] | undefined {
  const parsed = lines.map((line) => /^(\d+)\t(.+)$/.exec(line));
  if (parsed.some((m) => !m)) return undefined;
  return parsed.map((m) => ({ table: m![2]!, rows: Number(m![1]) }));
}

/** The scope fields of a summary: full or tables, the relations file's hash, why it fell back to full. */
function scopeOf(
  value: Record<string, unknown>,
): Pick<BackupSummary, 'scope' | 'relationsSha256' | 'fallback'> {
  const { scope, relationsSha256, fallback } = value;
  return {
    scope: scope === 'tables' ? 'tables' : 'full',
    ...(typeof relationsSha256 === 'string' && relationsSha256 ? { relationsSha256 } : {}),
    ...(typeof fallback === 'string' && fallback ? { fallback } : {}),
  };
}

/** Reads the container's termination message; undefined when it is not a backup summary. */
export function parseBackupSummary(message: string | undefined): BackupSummary | undefined {
  const value = summaryLine(message);
  if (!value) return undefined;
  const { file, sizeBytes, countsSha256, tables, rows, verified, pruned, compression } = value;

  if (typeof file !== 'string' || typeof sizeBytes !== 'number' || typeof countsSha256 !== 'string')
    return undefined;
  if (typeof tables !== 'number' || typeof rows !== 'number') return undefined;
  if (verified !== 'Read' && verified !== 'Restore') return undefined;
  const prunedFiles = Array.isArray(pruned) ? pruned.filter((f): f is string => typeof f === 'string') : [];
  const lines = message!.trim().split('\n').slice(1);
  const tableRows = lines.length === tables ? parseTableRows(lines) : undefined;
  return {
    file,
    sizeBytes,
    countsSha256,
    tables,
    rows,
    verified,
    pruned: prunedFiles,
    ...scopeOf(value),
    ...(typeof compression === 'string' ? { compression } : {}),
    ...(tableRows ? { tableRows } : {}),
  };
}

export function backupJobLabels(migrationName: string, planHash: string): Record<string, string> {
  return {
    [Label.managedBy]: MANAGED_BY,
    [Label.component]: 'backup',
    [Label.migration]: labelValue(migrationName),
    [Label.planHash]: shortPlanHash(planHash),
  };
}

/** The Job that dumps the database to the backup PVC: one per run, owned by the SchemaMigration. */
export function buildBackupJob(input: BackupJobInput): V1Job {
  return buildDatabaseJob({
    name: input.jobName ?? backupJobName(input.migration.name, input.planHash),
    migration: input.migration,
    labels: backupJobLabels(input.migration.name, input.planHash),
    container: BACKUP_CONTAINER,
    backup: input.backup,
    databaseSecret: input.databaseSecret,
    script: BACKUP_SCRIPT,
    env: {
      BACKUP_PREFIX: input.migration.name,
      BACKUP_FILE: backupFileName(input.migration.name, input.now, input.tables ? 'tables' : 'full'),
      RETAIN: String(input.backup.retain),
      VERIFY: input.backup.verify,
      COMPRESSION: input.backup.compression,
      ...(input.tables ? { SCOPE: 'tables', TOUCHED: input.tables.join('\n') } : {}),
      ...(input.fallback ? { FALLBACK: input.fallback.replace(/[\n"\\]/g, ' ') } : {}),
      ...(input.protect ? { PROTECT: input.protect } : {}),
    },
    timeoutSeconds: input.timeoutSeconds,
  });
}

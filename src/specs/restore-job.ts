import type { V1Job } from '@kubernetes/client-node';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { BackupSpec, SecretKeySelector } from '../api/v1alpha1/spec.js';
import { MIGRATION_LOCK_ID } from '../migrations/engine.js';
import {
  buildDatabaseJob,
  CONNECTION_SCRIPT,
  labelValue,
  summaryLine,
  TERMINATION_LOG,
  type OwnerRef,
} from './db-job.js';
import { DUMP_FUNCTIONS, NAMES_AWK, REPLACE_RELATIONS_SQL } from './dump-scripts.js';

export const RESTORE_CONTAINER = 'restore';

/**
 * Keeps the public schema's owner and privileges across its replacement: pg_dump does not create `public` (every
 * database has it), so it is dropped with everything in it, created again, and given back what it had.
 */
const REPLACE_PUBLIC = String.raw`CREATE TEMP TABLE schemaops_public ON COMMIT DROP AS
  SELECT n.nspowner, n.nspacl FROM pg_catalog.pg_namespace n WHERE n.nspname = 'public';
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public;
DO $schemaops$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT p.nspowner FROM pg_temp.schemaops_public p LOOP
    EXECUTE pg_catalog.format('ALTER SCHEMA public OWNER TO %s', r.nspowner::regrole);
  END LOOP;
  FOR r IN SELECT a.privilege_type, a.grantee FROM pg_temp.schemaops_public p, pg_catalog.aclexplode(p.nspacl) a LOOP
    EXECUTE pg_catalog.format('GRANT %s ON SCHEMA public TO %s', r.privilege_type,
      CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE r.grantee::regrole::text END);
  END LOOP;
END
$schemaops$;`;

/**
 * The restore, for plain /bin/sh (dash), coreutils and awk. In one transaction, under the migration lock: every
 * schema the dump covers is dropped with all it holds (objects made after the backup and what depends on them go
 * too), the dump is restored, and every table is checked against the row counts recorded at backup time
 * (the `.counts` file, itself checked against the sha256 the operator recorded). COMMIT is sent only after
 * pg_restore read the whole dump and every check passed; anything else ends the session without it, and
 * PostgreSQL rolls the transaction back: the database is as it was.
 */
export const RESTORE_SCRIPT = String.raw`set -eu
export LC_ALL=C
: "${'${'}TERMINATION_LOG:=${TERMINATION_LOG}}"
dump="$BACKUP_DIR/$RESTORE_FILE"
work=
trap 'rm -f -- "$CONNECTION_DIR/pg_service.conf" "$CONNECTION_DIR/pgpass"; [ -z "$work" ] || rm -rf -- "$work"' EXIT
trap 'exit 143' TERM INT
refuse() { echo "$1; nothing was changed" >&2; exit 1; }
${CONNECTION_SCRIPT}${DUMP_FUNCTIONS}case "$RESTORE_FILE" in '' | */* | .*) refuse "RESTORE_FILE '$RESTORE_FILE' is not a file name" ;; esac
[ -f "$dump" ] || refuse "$RESTORE_FILE is not on the backup volume"
[ -f "$dump.counts" ] || refuse "$RESTORE_FILE has no row counts beside it ($RESTORE_FILE.counts)"
sha=$(sha256sum < "$dump.counts" | cut -d ' ' -f 1)
[ "$sha" = "$COUNTS_SHA256" ] || refuse "the row counts beside $RESTORE_FILE are not the ones recorded when it was taken"
work=$(mktemp -d)
pg_restore --list "$dump" > "$work/toc" || refuse "pg_restore cannot read $RESTORE_FILE"
{
  # Catalog queries and counts: JIT would spend longer compiling them than they run.
  printf 'BEGIN;\nSET LOCAL client_min_messages = warning;\nSET LOCAL jit = off;\n'
  printf "SET LOCAL lock_timeout = '%sms';\n" "$LOCK_TIMEOUT_MS"
  printf 'SELECT pg_catalog.pg_advisory_xact_lock(%s);\n' "$LOCK_ID"
} > "$work/begin.sql"
if [ "${'${'}RESTORE_SCOPE:-full}" = tables ]; then
  [ -f "$dump.relations" ] || refuse "$RESTORE_FILE has no list of its relations beside it ($RESTORE_FILE.relations)"
  sha=$(sha256sum < "$dump.relations" | cut -d ' ' -f 1)
  [ "$sha" = "$RELATIONS_SHA256" ] || refuse "the relations beside $RESTORE_FILE are not the ones recorded when it was taken"
  printf '%s\n' "${'${'}CREATED:-}" > "$work/created"
  {
    cat <<'SCHEMAOPS_SQL'
${REPLACE_RELATIONS_SQL}
SCHEMAOPS_SQL
    # What the failed plan created goes first (a name the backup holds was there before: it is replaced below).
    awk '${NAMES_AWK}' "$work/created"
    printf 'DELETE FROM pg_temp.schemaops_names WHERE name IN (\n'
    awk -v q="'" 'NF { line = $0; gsub(q, q q, line); printf "%s%s%s%s,\n", (NR > 1 ? "" : ""), q, line, q }' "$dump.relations"
    printf "NULL);\nSELECT pg_temp.schemaops_drop(name) FROM pg_temp.schemaops_names;\nDROP TABLE pg_temp.schemaops_names;\n"
    awk '${NAMES_AWK}' "$dump.relations"
    cat <<'SCHEMAOPS_SQL'
DO $schemaops$
DECLARE
  outside text;
BEGIN
  -- The relations, and the sequences they own: a DROP … CASCADE takes those along too.
  WITH rels AS (
    SELECT pg_catalog.to_regclass(n.name)::oid AS oid FROM pg_temp.schemaops_names n
    WHERE pg_catalog.to_regclass(n.name) IS NOT NULL
  ), owned AS (
    SELECT d.objid AS oid FROM pg_catalog.pg_depend d JOIN rels ON d.refobjid = rels.oid
    JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
    WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.deptype IN ('a', 'i')
  )
  SELECT pg_catalog.string_agg(o, '; ') INTO outside
  FROM pg_temp.schemaops_outside(ARRAY(SELECT oid FROM rels UNION SELECT oid FROM owned)) o;
  IF outside IS NOT NULL THEN
    RAISE EXCEPTION 'restoring only the tables the run touched would also drop what depends on them: %', outside;
  END IF;
END
$schemaops$;
SELECT pg_temp.schemaops_drop(name) FROM pg_temp.schemaops_names;
SCHEMAOPS_SQL
  } >> "$work/begin.sql"
  what="replacing $(grep -c . "$dump.relations" || true) relation(s) the run touched"
else
  awk '$4 == "SCHEMA" && $5 == "-"' "$work/toc" > "$work/schemas.toc"
  pg_restore --use-list "$work/schemas.toc" --file - "$dump" | sed -n 's/^CREATE SCHEMA \(.*\);$/\1/p' > "$work/schemas"
  if grep -Evx '[a-z_][a-z0-9_$]*|"([^"]|"")*"' "$work/schemas" > "$work/odd"; then
    refuse "the dump creates a schema whose name cannot be read: $(head -n 1 "$work/odd")"
  fi
  {
    if ! grep -qx 'public' "$work/schemas"; then
      cat <<'SCHEMAOPS_SQL'
${REPLACE_PUBLIC}
SCHEMAOPS_SQL
    fi
    while IFS= read -r schema; do printf 'DROP SCHEMA IF EXISTS %s CASCADE;\n' "$schema"; done < "$work/schemas"
  } >> "$work/begin.sql"
  what="replacing schema(s) public $(tr '\n' ' ' < "$work/schemas")"
fi
row_checks "$dump.counts" > "$work/checks.sql"
echo "restoring $RESTORE_FILE: $what, in one transaction" >&2
status=0
{
  cat "$work/begin.sql"
  if pg_restore --file - "$dump"; then
    : > "$work/read"
    cat "$work/checks.sql"
    printf 'COMMIT;\n'
  fi
} | psql -X -q -v ON_ERROR_STOP=1 --no-password -o /dev/null -f - || status=$?
if [ "$status" -ne 0 ]; then
  echo "the restore failed and was rolled back; the database is as it was" >&2
  exit 1
fi
if [ ! -f "$work/read" ]; then
  echo "pg_restore could not read all of $RESTORE_FILE; the restore was rolled back and the database is as it was" >&2
  exit 1
fi
summary="{\"restored\":\"$RESTORE_FILE\",$(counts_totals "$dump.counts")}"
printf '%s\n' "$summary" > "$TERMINATION_LOG"
printf '%s\n' "$summary"
`;

export interface RestoreJobInput {
  readonly name: string;
  readonly migration: OwnerRef;
  readonly backup: BackupSpec;
  readonly databaseSecret: SecretKeySelector;
  /** The dump on the backup PVC. */
  readonly file: string;
  /** The sha256 recorded for the dump's `.counts` file. */
  readonly countsSha256: string;
  readonly timeoutSeconds: number;
  /** lock_timeout for the restore's own statements (DROP SCHEMA waits for the tables' locks). */
  readonly lockTimeoutMs: number;
  /**
   * A table-scoped backup: only the relations in `<file>.relations` (with this sha256) are replaced, after the
   * relations the failed plan created (`created`, quoted and schema-qualified) are dropped.
   */
  readonly tables?: { readonly relationsSha256: string; readonly created: readonly string[] };
}

/** What the restore container writes to its termination message on success. */
export interface RestoreSummary {
  readonly restored: string;
  readonly tables: number;
  readonly rows: number;
}

export function parseRestoreSummary(message: string | undefined): RestoreSummary | undefined {
  const value = summaryLine(message);
  if (!value) return undefined;
  const { restored, tables, rows } = value;
  if (typeof restored !== 'string' || typeof tables !== 'number' || typeof rows !== 'number')
    return undefined;
  return { restored, tables, rows };
}

/** The Job that restores one dump from the backup PVC, owned by the SchemaMigration. */
export function buildRestoreJob(input: RestoreJobInput): V1Job {
  return buildDatabaseJob({
    name: input.name,
    migration: input.migration,
    labels: {
      [Label.managedBy]: MANAGED_BY,
      [Label.component]: 'restore',
      [Label.migration]: labelValue(input.migration.name),
    },
    container: RESTORE_CONTAINER,
    backup: input.backup,
    databaseSecret: input.databaseSecret,
    script: RESTORE_SCRIPT,
    env: {
      RESTORE_FILE: input.file,
      COUNTS_SHA256: input.countsSha256,
      LOCK_ID: MIGRATION_LOCK_ID,
      LOCK_TIMEOUT_MS: String(Math.max(1, Math.round(input.lockTimeoutMs))),
      ...(input.tables
        ? {
            RESTORE_SCOPE: 'tables',
            RELATIONS_SHA256: input.tables.relationsSha256,
            CREATED: input.tables.created.join('\n'),
          }
        : {}),
    },
    timeoutSeconds: input.timeoutSeconds,
  });
}

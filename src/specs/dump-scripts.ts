/**
 * Shell and SQL fragments shared by the backup and restore Jobs: counting the rows a dump holds, and checking a
 * database against those counts. Written for plain /bin/sh (dash), coreutils and POSIX awk (mawk, busybox).
 */

/** The line the count pipeline appends when pg_restore could not read the whole dump. */
const UNREADABLE_MARK = 'schemaops: pg_restore could not read the dump';

/**
 * Reads `pg_restore --data-only --file -` and prints `<rows>\t<table>` for every COPY block, the table as pg_dump
 * quoted it (a valid SQL name). COPY's text format escapes line breaks in values, so a row is a line; a line of
 * only `\.` ends the block. Fails when the stream ends inside a block or with the unreadable mark.
 */
const COUNT_AWK = String.raw`
BEGIN { copying = 0 }
{ last = $0 }
copying {
  if ($0 == "\\.") { copying = 0; print rows "\t" table } else rows++
  next
}
/^COPY / && / FROM stdin;$/ {
  rest = substr($0, 6); table = ""; quoted = 0
  for (i = 1; i <= length(rest); i++) {
    c = substr(rest, i, 1)
    if (c == "\"") quoted = !quoted
    else if (c == " " && !quoted) break
    table = table c
  }
  copying = 1; rows = 0
}
END {
  if (last == mark) { print "the dump cannot be read to its end" > "/dev/stderr"; exit 1 }
  if (copying) { print "the dump ends inside the rows of " table > "/dev/stderr"; exit 1 }
}`;

/** Turns a counts file into one check per table: pg_temp.schemaops_expect('<table>', <rows>). */
const CHECKS_AWK = String.raw`
BEGIN { q = sprintf("%c", 39) }
{
  table = substr($0, length($1) + 2)
  gsub(q, q q, table)
  printf "SELECT pg_temp.schemaops_expect(%s%s%s, %s);\n", q, table, q, $1
}`;

/**
 * The check each table of a backup gets after a restore: the table exists and holds exactly the recorded rows
 * (ONLY: pg_dump copies each table, each partition, on its own). Raises, so the transaction it runs in fails.
 */
const EXPECT_FUNCTION = String.raw`CREATE FUNCTION pg_temp.schemaops_expect(tbl text, expected bigint) RETURNS void
LANGUAGE plpgsql AS $schemaops$
DECLARE
  rel regclass := pg_catalog.to_regclass(tbl);
  actual bigint;
BEGIN
  IF rel IS NULL THEN
    RAISE EXCEPTION 'table % of the backup is missing after the restore', tbl;
  END IF;
  EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM ONLY %s', rel) INTO actual;
  IF actual <> expected THEN
    RAISE EXCEPTION 'table % has % rows after the restore; the backup recorded %', tbl, actual, expected;
  END IF;
END
$schemaops$;`;

/**
 * Shell functions:
 * - `count_rows DUMP OUT`: every table's rows in DUMP, read from the dump's own data (one snapshot), to OUT;
 *   fails if any part of the data cannot be read.
 * - `row_checks COUNTS`: the SQL that checks a database against COUNTS (prints it).
 * - `counts_totals COUNTS`: `"tables":N,"rows":M`, for the summary's JSON line.
 */
export const DUMP_FUNCTIONS = String.raw`count_rows() {
  { pg_restore --data-only --file - "$1" || echo '${UNREADABLE_MARK}'; } |
    awk -v mark='${UNREADABLE_MARK}' '${COUNT_AWK}' > "$2"
}
row_checks() {
  cat <<'SCHEMAOPS_SQL'
${EXPECT_FUNCTION}
SCHEMAOPS_SQL
  awk '${CHECKS_AWK}' "$1"
}
counts_totals() {
  awk '{ tables++; rows += $1 } END { printf "\"tables\":%d,\"rows\":%.0f", tables, rows }' "$1"
}
`;

/**
 * Quoted, schema-qualified names (one per line) → the SQL that reads them into pg_temp.schemaops_names. Each
 * line is a SQL literal there, so no name becomes SQL.
 */
export const NAMES_AWK = String.raw`
BEGIN { q = sprintf("%c", 39); print "CREATE TEMP TABLE schemaops_names (name text);" }
NF { line = $0; gsub(q, q q, line); printf "INSERT INTO schemaops_names VALUES (%s%s%s);\n", q, line, q }`;

/**
 * The relations a table-scoped backup must hold so that restoring them alone is whole: the touched ones (an
 * index stands for its table), every table with a foreign key into one of them, and every view over them,
 * repeated until nothing is added. Prints `FALLBACK <why>` when restoring a part cannot be safe (partitions,
 * inheritance, triggers that may write elsewhere), else one `"schema"."name"` per line, as pg_dump -t reads it.
 */
const CLOSURE_SQL = String.raw`WITH RECURSIVE seed AS (
  SELECT CASE WHEN c.relkind = 'i' THEN i.indrelid ELSE c.oid END AS oid
  FROM pg_temp.schemaops_names n
  JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(n.name)
  LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
), closure(oid) AS (
  SELECT oid FROM seed
  UNION
  SELECT x.oid FROM closure, LATERAL (
    SELECT con.conrelid AS oid FROM pg_catalog.pg_constraint con
      WHERE con.contype = 'f' AND con.confrelid = closure.oid
    UNION ALL
    SELECT r.ev_class FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
      WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = closure.oid AND r.ev_class <> closure.oid
  ) x
), why AS (
  SELECT c.oid::regclass::text || ' is partitioned, a partition or inherits' AS reason FROM closure JOIN pg_catalog.pg_class c ON c.oid = closure.oid
    WHERE c.relkind = 'p' OR c.relispartition
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = c.oid OR h.inhparent = c.oid)
  UNION ALL
  SELECT t.tgrelid::regclass::text || ' has trigger ' || t.tgname FROM pg_catalog.pg_trigger t
    JOIN closure ON t.tgrelid = closure.oid WHERE NOT t.tgisinternal
)
SELECT 'FALLBACK ' || reason FROM (SELECT reason FROM why LIMIT 1) w
UNION ALL
SELECT '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"'
  FROM closure JOIN pg_catalog.pg_class c ON c.oid = closure.oid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE NOT EXISTS (SELECT 1 FROM why);`;

/**
 * Shell function `touched_closure NAMES OUT`: the relations a table-scoped backup of NAMES holds (CLOSURE_SQL),
 * or a first line `FALLBACK <why>`.
 */
export const CLOSURE_FUNCTION = String.raw`touched_closure() {
  {
    # A catalog query the planner costs high: JIT would compile it for longer than it runs (~0.3 s for ~2 ms).
    printf 'SET jit = off;\n'
    awk '${NAMES_AWK}' "$1"
    cat <<'SCHEMAOPS_SQL'
${CLOSURE_SQL}
SCHEMAOPS_SQL
  } | psql -X -q -A -t -v ON_ERROR_STOP=1 --no-password -f - > "$2"
}
`;

/**
 * Replacing a set of relations inside a transaction: pg_temp.schemaops_drop drops one by what it is (if it is
 * there, with what hangs on it), and pg_temp.schemaops_outside lists what depends on a set of relations but is
 * not part of them (their own constraints, defaults, rules, triggers, policies and indexes are).
 */
export const REPLACE_RELATIONS_SQL = String.raw`CREATE FUNCTION pg_temp.schemaops_drop(name text) RETURNS void
LANGUAGE plpgsql AS $schemaops$
DECLARE
  rel regclass := pg_catalog.to_regclass(name);
  kind "char";
BEGIN
  IF rel IS NULL THEN RETURN; END IF;
  SELECT c.relkind INTO kind FROM pg_catalog.pg_class c WHERE c.oid = rel;
  EXECUTE pg_catalog.format('DROP %s %s CASCADE',
    CASE kind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
      WHEN 'i' THEN 'INDEX' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, rel);
END
$schemaops$;
CREATE FUNCTION pg_temp.schemaops_outside(rels oid[]) RETURNS SETOF text
LANGUAGE sql AS $schemaops$
  SELECT DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_catalog.pg_depend d
  WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ANY (rels) AND d.deptype = 'n'
    AND NOT COALESCE(CASE d.classid
      WHEN 'pg_catalog.pg_class'::regclass THEN d.objid = ANY (rels)
      WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT conrelid FROM pg_catalog.pg_constraint WHERE oid = d.objid) = ANY (rels)
      WHEN 'pg_catalog.pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = d.objid) = ANY (rels)
      WHEN 'pg_catalog.pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_catalog.pg_attrdef WHERE oid = d.objid) = ANY (rels)
      WHEN 'pg_catalog.pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = d.objid) = ANY (rels)
      WHEN 'pg_catalog.pg_policy'::regclass THEN (SELECT polrelid FROM pg_catalog.pg_policy WHERE oid = d.objid) = ANY (rels)
    END, false)
$schemaops$;`;

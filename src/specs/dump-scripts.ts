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

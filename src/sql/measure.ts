import type { ClientBase } from 'pg';
import type { LossCandidate } from './dataloss.js';
import { displayIdent, displayName, quoteIdent, quoteName } from './names.js';

/** A candidate with the data it puts at stake, read from the database. */
export interface DataLoss extends LossCandidate {
  /** Rows (tables, schemas), non-null values (columns, types) or 1 for a used sequence; undefined: unknown. */
  readonly rows: number | undefined;
  /** e.g. 'DROP TABLE invoices (1,204 rows)'. */
  readonly detail: string;
}

interface Measurement {
  readonly rows: number | undefined;
  /** What the number means, or why it is unknown, for the detail. */
  readonly text: string;
  /** The object is not in the database (yet). */
  readonly missing?: boolean;
}

type Measurer = (client: ClientBase, c: LossCandidate) => Promise<Measurement>;

const measurers: Record<LossCandidate['kind'], Measurer> = {
  'drop-table': measureRelation,
  'drop-materialized-view': measureRelation,
  truncate: measureRelation,
  'delete-all': measureRelation,
  'update-all': measureRelation,
  'drop-column': measureColumn,
  'alter-column-type': measureColumn,
  'drop-schema': measureSchema,
  'drop-type': measureType,
  'drop-domain': measureType,
  'drop-extension': measureExtension,
  'drop-sequence': measureSequence,
};

/**
 * Reads how much data each candidate puts at stake; empty tables and columns are left out, and a missing
 * object stays with rows unknown. Only reads (fine in a READ ONLY transaction) and checks privileges first,
 * so no query fails and aborts the caller's transaction.
 */
export async function measureDataLoss(
  client: ClientBase,
  candidates: readonly LossCandidate[],
): Promise<DataLoss[]> {
  const losses: DataLoss[] = [];
  for (const c of candidates) {
    const m = await measurers[c.kind](client, { ...c, object: c.databaseObject ?? c.object });
    if (m.rows === 0 || (m.missing === true && c.createdByPlanIfAbsent === true)) continue;
    losses.push({ ...c, rows: m.rows, detail: `${c.description} (${m.text}${renamedFrom(c)})` });
  }
  return losses;
}

function renamedFrom(c: LossCandidate): string {
  const from = c.databaseObject;
  if (!from) return '';
  return `, before the plan ${displayName(from)}${from.column === undefined ? '' : `.${displayIdent(from.column)}`}`;
}

const unknown = (why: string): Measurement => ({ rows: undefined, text: `rows unknown: ${why}` });
const notInDatabase: Measurement = { ...unknown('not in the database'), missing: true };
const unreadable = unknown('no SELECT privilege');

function counted(n: number, unit: string, where = ''): Measurement {
  const plural = n === 1 ? unit : `${unit}s`;
  return { rows: n, text: `${n.toLocaleString('en-US')} ${plural}${where}` };
}

interface RelationRow {
  oid: string;
  name: string;
  relkind: string;
  populated: boolean;
  readable: boolean;
}

// The name goes through to_regclass, so an unqualified one resolves on the search_path like the statement.
async function findRelation(client: ClientBase, c: LossCandidate): Promise<RelationRow | undefined> {
  const { rows } = await client.query<RelationRow>(
    `SELECT c.oid::text AS oid, c.oid::regclass::text AS name, c.relkind::text AS relkind,
            c.relispopulated AS populated, pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
       FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
    [quoteName(c.object)],
  );
  return rows[0];
}

async function countOf(client: ClientBase, expression: string, relation: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(${expression})::text AS n FROM ${relation}`,
  );
  return Number(rows[0]?.n ?? 0);
}

// Tables, partitioned tables, views (DELETE through an updatable view) and populated materialized views.
function countable(rel: RelationRow): boolean {
  return ['r', 'p', 'v'].includes(rel.relkind) || (rel.relkind === 'm' && rel.populated);
}

async function measureRelation(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const rel = await findRelation(client, c);
  if (!rel) return notInDatabase;
  if (rel.relkind === 'm' && !rel.populated) return counted(0, 'row');
  if (!countable(rel)) return unknown(`not a table (relkind ${rel.relkind})`);
  if (!rel.readable) return unreadable;
  return counted(await countOf(client, '*', rel.name), 'row');
}

async function measureColumn(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const rel = await findRelation(client, c);
  if (!rel || c.object.column === undefined) return notInDatabase;
  if (!countable(rel)) return unknown(`not a table (relkind ${rel.relkind})`);
  const { rows } = await client.query<{ readable: boolean }>(
    `SELECT pg_catalog.has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS readable
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = $1::oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
    [rel.oid, c.object.column],
  );
  const column = rows[0];
  if (!column) return { ...unknown('column not in the database'), missing: true };
  if (!column.readable) return unreadable;
  return counted(await countOf(client, quoteIdent(c.object.column), rel.name), 'non-null value');
}

async function measureSchema(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const { rows } = await client.query<{ name: string; readable: boolean }>(
    `SELECT c.oid::regclass::text AS name, pg_catalog.has_table_privilege(c.oid, 'SELECT') AS readable
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
      ORDER BY 1`,
    [c.object.name],
  );
  if (rows.length === 0) {
    const exists = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [
      c.object.name,
    ]);
    return exists.rows.length === 0 ? notInDatabase : counted(0, 'row');
  }
  if (rows.some((r) => !r.readable)) return unreadable;
  let total = 0;
  for (const r of rows) total += await countOf(client, '*', r.name);
  return counted(total, 'row', ` in ${counted(rows.length, 'table').text}`);
}

async function measureType(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const { rows } = await client.query<{ oid: string | null }>(
    'SELECT pg_catalog.to_regtype($1)::oid::text AS oid',
    [quoteName(c.object)],
  );
  const oid = rows[0]?.oid;
  return oid ? measureColumnsOfTypes(client, [oid]) : notInDatabase;
}

async function measureExtension(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const { rows } = await client.query<{ types: string[] }>(
    `SELECT ARRAY(SELECT d.objid::text FROM pg_catalog.pg_depend d
                   WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.refclassid = 'pg_catalog.pg_extension'::regclass
                     AND d.refobjid = e.oid AND d.deptype = 'e') AS types
       FROM pg_catalog.pg_extension e WHERE e.extname = $1`,
    [c.object.name],
  );
  const ext = rows[0];
  return ext ? measureColumnsOfTypes(client, ext.types) : notInDatabase;
}

/** Non-null values in table columns of these types, their arrays and domains over them. */
async function measureColumnsOfTypes(client: ClientBase, typeOids: readonly string[]): Promise<Measurement> {
  if (typeOids.length === 0) return counted(0, 'non-null value');
  const { rows } = await client.query<{ relation: string; column: string; readable: boolean }>(
    `WITH RECURSIVE used(oid) AS (
       SELECT pg_catalog.unnest($1::oid[])
       UNION
       SELECT t.oid FROM used u JOIN pg_catalog.pg_type p ON p.oid = u.oid
         JOIN pg_catalog.pg_type t ON t.typbasetype = p.oid OR t.oid = p.typarray
     )
     SELECT c.oid::regclass::text AS relation, a.attname AS column,
            pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT') AS readable
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      WHERE a.atttypid IN (SELECT oid FROM used) AND a.attnum > 0 AND NOT a.attisdropped
        AND (c.relkind = 'r' OR (c.relkind = 'm' AND c.relispopulated))
      ORDER BY 1, 2`,
    [typeOids],
  );
  if (rows.some((r) => !r.readable)) return unreadable;
  let total = 0;
  for (const r of rows) total += await countOf(client, quoteIdent(r.column), r.relation);
  return counted(total, 'non-null value', ` in ${counted(rows.length, 'column').text}`);
}

async function measureSequence(client: ClientBase, c: LossCandidate): Promise<Measurement> {
  const rel = await findRelation(client, c);
  if (!rel) return notInDatabase;
  if (rel.relkind !== 'S') return unknown(`not a sequence (relkind ${rel.relkind})`);
  const { rows } = await client.query<{ readable: boolean }>(
    "SELECT pg_catalog.has_sequence_privilege($1::oid, 'SELECT') AS readable",
    [rel.oid],
  );
  if (!rows[0]?.readable) return unreadable;
  const state = await client.query<{ last: string; called: boolean }>(
    `SELECT last_value::text AS last, is_called AS called FROM ${rel.name}`,
  );
  const seq = state.rows[0];
  if (!seq?.called) return counted(0, 'row');
  return { rows: 1, text: `in use, last value ${BigInt(seq.last).toLocaleString('en-US')}` };
}

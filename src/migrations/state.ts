import pg from 'pg';

/** Where node-pg-migrate's table (and our archive beside it) lives. */
export interface MigrationsTableOptions {
  /** node-pg-migrate's table of applied migrations; default `pgmigrations`. */
  readonly migrationsTable: string;
  /** The schema of that table; default `public`. */
  readonly schema: string;
}

export const DEFAULT_TABLE_OPTIONS: MigrationsTableOptions = {
  migrationsTable: 'pgmigrations',
  schema: 'public',
};

/** One row of node-pg-migrate's table. */
export interface AppliedMigration {
  readonly revision: string;
  readonly runOn: Date;
}

/** What the archive keeps of an applied migration, so it can be rolled back after its file is gone. */
export interface ArchivedMigration {
  readonly revision: string;
  readonly checksum: string;
  readonly up: string;
  readonly down: string | undefined;
  readonly noTransaction: boolean;
  readonly appliedAt: Date;
}

/** The database's side of a plan: what is applied, oldest first, and what the archive holds. */
export interface DatabaseState {
  readonly applied: readonly AppliedMigration[];
  readonly archive: ReadonlyMap<string, ArchivedMigration>;
}

export function archiveTableName(options: MigrationsTableOptions): string {
  return `${options.migrationsTable}_archive`;
}

export function qualified(options: MigrationsTableOptions, table: string): string {
  return `${pg.escapeIdentifier(options.schema)}.${pg.escapeIdentifier(table)}`;
}

async function tableExists(
  client: pg.ClientBase,
  options: MigrationsTableOptions,
  table: string,
): Promise<boolean> {
  const { rows } = await client.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [
    qualified(options, table),
  ]);
  return rows[0]?.found != null;
}

interface ArchiveRow {
  name: string;
  sha256: string;
  up_sql: string;
  down_sql: string | null;
  no_transaction: boolean;
  applied_at: Date;
}

/** Reads the applied list (in node-pg-migrate's order: run_on, id) and the archive. Creates nothing. */
export async function readDatabaseState(
  client: pg.ClientBase,
  options: MigrationsTableOptions,
): Promise<DatabaseState> {
  const archive = new Map<string, ArchivedMigration>();
  if (!(await tableExists(client, options, options.migrationsTable))) return { applied: [], archive };
  const { rows } = await client.query<{ name: string; run_on: Date }>(
    `SELECT name, run_on FROM ${qualified(options, options.migrationsTable)} ORDER BY run_on, id`,
  );
  const applied = rows.map((r) => ({ revision: r.name, runOn: r.run_on }));
  if (await tableExists(client, options, archiveTableName(options))) {
    const archived = await client.query<ArchiveRow>(
      `SELECT name, sha256, up_sql, down_sql, no_transaction, applied_at FROM ${qualified(options, archiveTableName(options))}`,
    );
    for (const row of archived.rows) {
      archive.set(row.name, {
        revision: row.name,
        checksum: row.sha256,
        up: row.up_sql,
        down: row.down_sql ?? undefined,
        noTransaction: row.no_transaction,
        appliedAt: row.applied_at,
      });
    }
  }
  return { applied, archive };
}

/** Creates node-pg-migrate's table (with its own DDL) and the archive beside it, when missing. */
export async function ensureTables(client: pg.ClientBase, options: MigrationsTableOptions): Promise<void> {
  const { rows } = await client.query<{ found: string | null }>('SELECT to_regnamespace($1)::text AS found', [
    pg.escapeIdentifier(options.schema),
  ]);
  if (rows[0]?.found == null) await client.query(`CREATE SCHEMA ${pg.escapeIdentifier(options.schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(options, options.migrationsTable)} ` +
      '(id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)',
  );
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${qualified(options, archiveTableName(options))} (` +
      'name varchar(255) PRIMARY KEY, sha256 text NOT NULL, up_sql text NOT NULL, down_sql text, ' +
      'no_transaction boolean NOT NULL DEFAULT false, applied_at timestamptz NOT NULL DEFAULT now())',
  );
}

/** The statement that archives a migration; it runs inside the migration's own transaction. */
export function archiveInsertSql(
  options: MigrationsTableOptions,
  m: { revision: string; checksum: string; up: string; down: string | undefined; noTransaction: boolean },
): string {
  const lit = pg.escapeLiteral;
  return (
    `INSERT INTO ${qualified(options, archiveTableName(options))} ` +
    '(name, sha256, up_sql, down_sql, no_transaction, applied_at) VALUES ' +
    `(${lit(m.revision)}, ${lit(m.checksum)}, ${lit(m.up)}, ${m.down === undefined ? 'NULL' : lit(m.down)}, ` +
    `${m.noTransaction}, now()) ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256, ` +
    'up_sql = EXCLUDED.up_sql, down_sql = EXCLUDED.down_sql, no_transaction = EXCLUDED.no_transaction, ' +
    'applied_at = EXCLUDED.applied_at'
  );
}

export function archiveDeleteSql(options: MigrationsTableOptions, revision: string): string {
  return `DELETE FROM ${qualified(options, archiveTableName(options))} WHERE name = ${pg.escapeLiteral(revision)}`;
}

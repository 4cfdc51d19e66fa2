import pg from 'pg';
import { createDatabase } from '../../src/localcluster/postgres.js';

interface TestPostgres {
  adminUrl: string;
  password: string;
}

/** The test run's PostgreSQL server, started by global setup. */
export function testPostgres(): TestPostgres {
  const adminUrl = process.env.SCHEMAOPS_TEST_ADMIN_URL;
  const password = process.env.SCHEMAOPS_TEST_PASSWORD;
  if (!adminUrl || !password) throw new Error('no test PostgreSQL: run the tests through jest (npm test)');
  return { adminUrl, password };
}

/** A fresh, empty database on the test run's PostgreSQL server. */
export async function freshDatabase(prefix = 't'): Promise<string> {
  return createDatabase(testPostgres().adminUrl, prefix);
}

/** Runs one query on its own connection and returns the rows. */
export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Every table outside the system schemas, with its columns and all its rows in a stable order. */
export async function tableSnapshot(
  url: string,
): Promise<Record<string, { columns: string[]; rows: unknown[] }>> {
  const tables = await query<{ schema: string; name: string }>(
    url,
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'
      ORDER BY 1, 2`,
  );
  const snapshot: Record<string, { columns: string[]; rows: unknown[] }> = {};
  for (const { schema, name } of tables) {
    const qualified = `"${schema.replace(/"/g, '""')}"."${name.replace(/"/g, '""')}"`;
    const columns = await query<{ column_name: string }>(
      url,
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [schema, name],
    );
    const [rows] = await query<{ rows: unknown[] }>(
      url,
      `SELECT coalesce(json_agg(t ORDER BY t::text), '[]') AS rows FROM ${qualified} t`,
    );
    snapshot[`${schema}.${name}`] = { columns: columns.map((c) => c.column_name), rows: rows!.rows };
  }
  return snapshot;
}

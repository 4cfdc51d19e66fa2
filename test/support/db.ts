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

import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createDatabase } from '../../src/localcluster/postgres.js';
import { stateFile } from './state.js';

interface TestPostgres {
  adminUrl: string;
  password: string;
}

export function testPostgres(): TestPostgres {
  return JSON.parse(readFileSync(stateFile, 'utf8')) as TestPostgres;
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

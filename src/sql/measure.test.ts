import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { freshDatabase } from '../../test/support/db.js';
import {
  findLossCandidates,
  loadSqlParser,
  measureDataLoss,
  parseStatements,
  type DataLoss,
} from './index.js';

const setup = `
  CREATE TABLE invoices (id int PRIMARY KEY, total numeric);
  INSERT INTO invoices SELECT g, g * 1.5 FROM generate_series(1, 1204) g;
  CREATE TABLE drafts (id int);
  CREATE TABLE notes (id int, memo text, body text);
  INSERT INTO notes VALUES (1, NULL, 'a'), (2, NULL, 'b'), (3, NULL, 'c');
  CREATE TYPE mood AS ENUM ('happy', 'sad');
  CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
  CREATE EXTENSION citext;
  CREATE TABLE people (name text, mood mood, moods mood[], email email, nick citext);
  INSERT INTO people VALUES ('a', 'happy', '{sad}', 'a@x', 'A'), ('b', NULL, NULL, NULL, 'B');
  CREATE SCHEMA archive;
  CREATE TABLE archive.old (id int);
  INSERT INTO archive.old SELECT generate_series(1, 5);
  CREATE TABLE archive.empty (id int);
  CREATE SCHEMA app;
  CREATE TABLE app.orders (id int);
  INSERT INTO app.orders VALUES (1), (2), (3);
  CREATE TABLE "Weird ""name""" (id int);
  INSERT INTO "Weird ""name""" VALUES (1);
  CREATE SEQUENCE used_numbers;
  SELECT nextval('used_numbers');
  CREATE SEQUENCE fresh_numbers;
  DROP ROLE IF EXISTS schemaops_measure_reader;
  CREATE ROLE schemaops_measure_reader;
`;

let client: pg.Client;

beforeAll(async () => {
  await loadSqlParser();
  client = new pg.Client({ connectionString: await freshDatabase('sqlmeasure') });
  await client.connect();
  await client.query(setup);
});

afterAll(async () => {
  await client.end();
});

/** Measures the candidates of `sql` the way the planner does: in a READ ONLY transaction, rolled back. */
async function measure(sql: string, before = ''): Promise<DataLoss[]> {
  const { candidates } = findLossCandidates([{ file: 'm.sql', statements: parseStatements(sql, 'm.sql') }]);
  await client.query('BEGIN READ ONLY');
  try {
    if (before) await client.query(before);
    const losses = await measureDataLoss(client, candidates);
    await client.query('SELECT 1');
    return losses;
  } finally {
    await client.query('ROLLBACK');
  }
}

async function details(sql: string, before = ''): Promise<string[]> {
  return (await measure(sql, before)).map((l) => l.detail);
}

describe('measureDataLoss', () => {
  it('names the rows a dropped table holds', async () => {
    const [loss, ...rest] = await measure('DROP TABLE invoices;');
    expect(rest).toEqual([]);
    expect(loss).toMatchObject({
      kind: 'drop-table',
      rows: 1204,
      detail: 'DROP TABLE invoices (1,204 rows)',
    });
  });

  it('leaves out an empty table, whether dropped, truncated, deleted or updated', async () => {
    expect(
      await measure('DROP TABLE drafts; TRUNCATE drafts; DELETE FROM drafts; UPDATE drafts SET id = 1;'),
    ).toEqual([]);
  });

  it('leaves out a column that is all NULL and counts the values of one that is not', async () => {
    expect(await details('ALTER TABLE notes DROP COLUMN memo, ALTER COLUMN body TYPE varchar(1);')).toEqual([
      'ALTER TABLE notes ALTER COLUMN body TYPE … (3 non-null values)',
    ]);
  });

  it('keeps a table that does not exist (yet) as a loss with rows unknown', async () => {
    const losses = await measure('DROP TABLE gone; ALTER TABLE notes DROP COLUMN gone;');
    expect(losses.map((l) => [l.rows, l.detail])).toEqual([
      [undefined, 'DROP TABLE gone (rows unknown: not in the database)'],
      [undefined, 'ALTER TABLE notes DROP COLUMN gone (rows unknown: column not in the database)'],
    ]);
  });

  it('counts what TRUNCATE, DELETE and UPDATE without WHERE put at stake', async () => {
    expect(
      await details(
        'TRUNCATE invoices; WITH d AS (DELETE FROM notes RETURNING 1) SELECT 1; UPDATE invoices SET total = 0;',
      ),
    ).toEqual([
      'TRUNCATE invoices (1,204 rows)',
      'DELETE FROM notes without WHERE (in a WITH query) (3 rows)',
      'UPDATE invoices without WHERE (1,204 rows)',
    ]);
  });

  it('counts the rows of every table in a dropped schema', async () => {
    expect(await details('DROP SCHEMA archive CASCADE; DROP SCHEMA nowhere;')).toEqual([
      'DROP SCHEMA archive CASCADE (5 rows in 2 tables)',
      'DROP SCHEMA nowhere (rows unknown: not in the database)',
    ]);
  });

  it('counts the values in columns of a dropped type, its arrays, domain or extension', async () => {
    expect(
      await details('DROP TYPE mood CASCADE; DROP DOMAIN email CASCADE; DROP EXTENSION citext CASCADE;'),
    ).toEqual([
      'DROP TYPE mood CASCADE (2 non-null values in 2 columns)',
      'DROP DOMAIN email CASCADE (1 non-null value in 1 column)',
      'DROP EXTENSION citext CASCADE (2 non-null values in 1 column)',
    ]);
  });

  it('resolves unqualified names on the search_path and quotes odd identifiers', async () => {
    expect(
      await details('DROP TABLE orders; DROP TABLE "Weird ""name""";', 'SET LOCAL search_path = app, public'),
    ).toEqual(['DROP TABLE orders (3 rows)', 'DROP TABLE "Weird ""name""" (1 row)']);
  });

  it('counts a used sequence and leaves out one never used', async () => {
    expect(await details('DROP SEQUENCE used_numbers, fresh_numbers;')).toEqual([
      'DROP SEQUENCE used_numbers (in use, last value 1)',
    ]);
  });

  it('reports rows unknown without a SELECT privilege, and the transaction stays usable', async () => {
    const losses = await measure(
      'DROP TABLE invoices; ALTER TABLE notes DROP COLUMN body; DROP SCHEMA archive; DROP TYPE mood;',
      'SET LOCAL ROLE schemaops_measure_reader',
    );
    expect(losses.map((l) => l.detail)).toEqual([
      'DROP TABLE invoices (rows unknown: no SELECT privilege)',
      'ALTER TABLE notes DROP COLUMN body (rows unknown: no SELECT privilege)',
      'DROP SCHEMA archive (rows unknown: no SELECT privilege)',
      'DROP TYPE mood (rows unknown: no SELECT privilege)',
    ]);
  });

  it('leaves out what the plan creates IF NOT EXISTS when the database does not have it', async () => {
    const sql = [
      'CREATE TABLE IF NOT EXISTS invoices (id int);',
      'CREATE TABLE IF NOT EXISTS brand_new (id int);',
      'DROP TABLE invoices; DROP TABLE brand_new;',
    ].join('\n');
    expect(await details(sql)).toEqual(['DROP TABLE invoices (1,204 rows)']);
  });

  it('measures a table or column the plan renamed under its name in the database', async () => {
    const sql = [
      'ALTER TABLE invoices RENAME TO old_invoices;',
      'ALTER TABLE notes RENAME COLUMN body TO words;',
      'DROP TABLE old_invoices; ALTER TABLE notes DROP COLUMN words;',
    ].join('\n');
    expect(await details(sql)).toEqual([
      'DROP TABLE old_invoices (1,204 rows, before the plan invoices)',
      'ALTER TABLE notes DROP COLUMN words (3 non-null values, before the plan notes.body)',
    ]);
  });
});

import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  currentRevision,
  migrateToTarget,
  planToTarget,
  type EngineOptions,
} from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query } from '../support/db.js';
import { rejection } from '../support/refusal.js';

const to = (target: string) => parseTarget(target, { allowRelative: true });

const enumPlan: Record<string, string> = {
  '1_status.sql': `-- Up Migration
CREATE TYPE order_status AS ENUM ('open', 'paid');
CREATE TABLE orders (id int PRIMARY KEY, status order_status NOT NULL DEFAULT 'open');
INSERT INTO orders VALUES (1, 'open'), (2, 'paid');
-- Down Migration
DROP TABLE orders;
DROP TYPE order_status;
`,
  '2_add-shipped.sql': `-- Up Migration
ALTER TYPE order_status ADD VALUE 'shipped';
-- Down Migration
`,
  '3_ship-paid.sql': `-- Up Migration
UPDATE orders SET status = 'shipped' WHERE status = 'paid';
CREATE INDEX orders_shipped ON orders (id) WHERE status = 'shipped';
-- Down Migration
DROP INDEX orders_shipped;
UPDATE orders SET status = 'paid' WHERE status = 'shipped';
`,
};

describe('transactions where PostgreSQL needs them', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('tx') };
  });

  it('applies a plan that adds an enum value and uses it in a later migration, from an older revision', async () => {
    await migrateToTarget(options, enumPlan, to('1_status'));
    const plan = await planToTarget(options, enumPlan, to('latest'));
    expect(plan.segments.map((s) => [s.transaction, [...new Set(s.steps.map((x) => x.revision))]])).toEqual([
      [true, ['2_add-shipped']],
      [true, ['3_ship-paid']],
    ]);
    await migrateToTarget(options, enumPlan, to('latest'));
    expect(await currentRevision(options)).toBe('3_ship-paid');
    expect(await query(options.databaseUrl, 'SELECT id, status FROM orders ORDER BY id')).toEqual([
      { id: 1, status: 'open' },
      { id: 2, status: 'shipped' },
    ]);
  });

  it('runs CONCURRENTLY alone outside a transaction without the no-transaction line', async () => {
    const files = {
      '1_orders.sql': `-- Up Migration
CREATE TABLE orders (id int, total int);
CREATE INDEX CONCURRENTLY orders_total ON orders (total);
CREATE TABLE audit (id int);
-- Down Migration
DROP TABLE audit;
DROP INDEX CONCURRENTLY orders_total;
DROP TABLE orders;
`,
    };
    const plan = await planToTarget(options, files, to('latest'));
    expect(plan.segments.map((s) => [s.transaction, s.steps.length])).toEqual([
      [true, 1],
      [false, 1],
      [true, 2],
    ]);
    await migrateToTarget(options, files, to('latest'));
    const [index] = await query<{ valid: boolean }>(
      options.databaseUrl,
      "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'orders_total'::regclass",
    );
    expect(index?.valid).toBe(true);
    await migrateToTarget(options, files, to('base'));
    expect(await currentRevision(options)).toBe('base');
  });

  it('refuses transaction control in a file, naming it and the line, before anything runs', async () => {
    const files = {
      '1_a.sql': '-- Up Migration\nCREATE TABLE a (id int);\n',
      '2_b.sql': '-- Up Migration\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n',
    };
    const err = await rejection(migrateToTarget(options, files, to('latest')));
    expect(err).toMatchObject({ code: 'InvalidMigrationFile', file: '2_b.sql' });
    expect(err.message).toContain('2_b.sql:2');
    expect(await currentRevision(options)).toBe('base');
    expect(await query(options.databaseUrl, "SELECT 1 FROM pg_tables WHERE tablename = 'a'")).toEqual([]);
  });

  it("refuses SQL PostgreSQL's parser cannot read, with its message and the position in the file", async () => {
    const files = {
      '1_a.sql': '-- Up Migration\nCREATE TABLE a (id int);\n',
      '2_b.sql': "-- Up Migration\nINSERT INTO a VALUES (E'it\\'s');\nCREATE TABLE b (id int,);\n",
    };
    const err = await rejection(planToTarget(options, files, to('latest')));
    expect(err).toMatchObject({ code: 'InvalidSql', file: '2_b.sql' });
    expect(err.message).toMatch(/^2_b\.sql:3:\d+: syntax error at or near "\)"/);
    expect(await currentRevision(options)).toBe('base');
  });

  it('reports which segments committed, the failing line, and a half-applied no-transaction migration', async () => {
    const files = {
      '1_orders.sql':
        '-- Up Migration\nCREATE TABLE orders (id int, total int);\n-- Down Migration\nDROP TABLE orders;\n',
      '2_indexes.sql': `-- schemaops: no-transaction
-- Up Migration
CREATE INDEX CONCURRENTLY orders_id ON orders (id);
CREATE INDEX CONCURRENTLY orders_total ON orders (no_such_column);
-- Down Migration
`,
    };
    const err = await rejection(migrateToTarget(options, files, to('latest')));
    expect(err).toMatchObject({
      code: 'MigrationFailed',
      file: '2_indexes.sql',
      line: 4,
      revision: '1_orders',
      halfApplied: ['2_indexes'],
    });
    expect(err.message).toContain('1 of 2 segment(s) committed');
    expect(err.message).toContain('HALF-APPLIED');
    expect(await currentRevision(options)).toBe('1_orders');
    const indexes = await query(
      options.databaseUrl,
      "SELECT 1 FROM pg_indexes WHERE indexname = 'orders_id'",
    );
    expect(indexes).toHaveLength(1);
  });
});

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { segmentsOf, type PlannedMigration } from '../migrations/planner.js';
import {
  findSquawk,
  loadSqlParser,
  onlineSafety,
  parseStatements,
  SQUAWK_ENV,
  type OnlinePlan,
} from './index.js';

beforeAll(async () => {
  await loadSqlParser();
});

/** A plan as the planner builds it: one migration per SQL text, `noTransaction` when it starts with `!`. */
function plan(...files: string[]): OnlinePlan {
  const migrations = files.map((text, i) => {
    const noTransaction = text.startsWith('!');
    const sql = noTransaction ? text.slice(1) : text;
    const revision = `${i + 1}_m`;
    const file = `${revision}.sql`;
    return {
      revision,
      file,
      sql,
      noTransaction,
      statements: parseStatements(sql, file),
    } as unknown as PlannedMigration;
  });
  return { direction: 'up', destructive: false, migrations, segments: segmentsOf(migrations, false) };
}

const decide = (...files: string[]) => onlineSafety(plan(...files));

describe('onlineSafety: plans that run with the app up', () => {
  it.each([
    ['a nullable column without a default', 'ALTER TABLE orders ADD COLUMN note text'],
    ['a nullable column with a constant default', "ALTER TABLE orders ADD COLUMN state text DEFAULT 'new'"],
    [
      'a NOT NULL column with a non-volatile default',
      'ALTER TABLE orders ADD COLUMN at timestamptz NOT NULL DEFAULT now()',
    ],
    [
      'a new table with its index and rows',
      "CREATE TABLE tags (id bigint PRIMARY KEY, name text);\nCREATE INDEX tags_name ON tags (name);\nINSERT INTO tags VALUES (1, 'a')",
    ],
    ['CREATE INDEX CONCURRENTLY', '!CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_note ON orders (note)'],
    [
      'a sequence, a view, a comment and a grant',
      "CREATE SEQUENCE s;\nCREATE VIEW v AS SELECT 1 AS one;\nCOMMENT ON TABLE orders IS 'x';\nGRANT SELECT ON v TO PUBLIC",
    ],
  ])('%s', async (_what, sql) => {
    const result = await decide(sql);
    expect(result).toEqual({ online: true, rule: 'additive', reason: expect.stringMatching(/only add/) });
  });

  it('a constraint added NOT VALID, then validated in a later transaction', async () => {
    const result = await decide(
      'ALTER TABLE orders ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID;\n' +
        'ALTER TABLE orders ADD CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID',
      '!ALTER TABLE orders VALIDATE CONSTRAINT qty_positive',
    );
    expect(result.online).toBe(true);
  });
});

describe('onlineSafety: plans that scale the app down, and the rule that says so', () => {
  it.each([
    [
      'a non-concurrent index on an existing table',
      'CREATE INDEX orders_note ON orders (note)',
      'squawk:require-concurrent-index-creation',
    ],
    [
      'a volatile default',
      'ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid()',
      'squawk:adding-field-with-default',
    ],
    [
      'NOT NULL without a default',
      'ALTER TABLE orders ADD COLUMN code text NOT NULL',
      'squawk:adding-required-field',
    ],
    [
      'a constraint without NOT VALID',
      'ALTER TABLE orders ADD CONSTRAINT c CHECK (qty > 0)',
      'squawk:constraint-missing-not-valid',
    ],
    ['a renamed column', 'ALTER TABLE orders RENAME COLUMN note TO remark', 'squawk:renaming-column'],
    [
      'a column type change',
      'ALTER TABLE orders ALTER COLUMN qty TYPE bigint',
      'squawk:changing-column-type',
    ],
    [
      'NOT VALID and VALIDATE in one transaction',
      'ALTER TABLE orders ADD CONSTRAINT c CHECK (qty > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT c',
      'squawk:constraint-missing-not-valid',
    ],
    ['SET NOT NULL', 'ALTER TABLE orders ALTER COLUMN note SET NOT NULL', 'squawk:adding-not-nullable-field'],
    [
      'a serial column (squawk is silent)',
      'ALTER TABLE orders ADD COLUMN n bigserial',
      'parser:AlterTableStmt:AT_AddColumn',
    ],
    [
      'a new column with a CHECK (squawk is silent)',
      'ALTER TABLE orders ADD COLUMN c int CHECK (c > 0)',
      'parser:AlterTableStmt:AT_AddColumn',
    ],
    [
      'a table moved (squawk is silent)',
      'ALTER TABLE orders SET TABLESPACE slow',
      'parser:AlterTableStmt:AT_SetTableSpace',
    ],
    [
      'a backfill of an existing table',
      "UPDATE orders SET state = 'new' WHERE state IS NULL",
      'parser:UpdateStmt',
    ],
    [
      'a replaced function',
      'CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      'parser:CreateFunctionStmt',
    ],
    ['a statement off the list', 'CREATE EXTENSION IF NOT EXISTS pgcrypto', 'parser:CreateExtensionStmt'],
  ])('%s → %s', async (_what, sql, rule) => {
    const result = await decide(sql);
    expect(result.online).toBe(false);
    expect(result.rule).toBe(rule);
    expect(result.reason).toMatch(/^1_m\.sql:\d+: /);
    expect(result.reason.length).toBeLessThanOrEqual(300);
  });

  it('names the file and line of the first statement that is not safe', async () => {
    const result = await decide('ALTER TABLE orders ADD COLUMN note text', "\n\nUPDATE orders SET note = ''");
    expect(result).toMatchObject({
      online: false,
      rule: 'parser:UpdateStmt',
      reason: expect.stringMatching(/^2_m\.sql:3: UPDATE/),
    });
  });

  it('never runs a rollback or a destructive plan online', async () => {
    const additive = plan('ALTER TABLE orders ADD COLUMN note text');
    expect(await onlineSafety({ ...additive, direction: 'down' })).toMatchObject({
      online: false,
      rule: 'direction',
    });
    expect(await onlineSafety({ ...additive, destructive: true })).toMatchObject({
      online: false,
      rule: 'data-loss',
    });
  });
});

describe('onlineSafety without the linter', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'squawk-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the squawk binary of the installed platform package', () => {
    expect(findSquawk({})).toEqual({ path: expect.stringMatching(/@squawk-cli\/.+\/bin\/squawk$/) });
  });

  it('scales down when squawk is missing, and says so', async () => {
    const missing = findSquawk({ [SQUAWK_ENV]: join(dir, 'absent') });
    expect(missing).toEqual({ missing: expect.stringContaining(`${SQUAWK_ENV}=`) });
    const result = await onlineSafety(plan('ALTER TABLE orders ADD COLUMN note text'), {
      squawk: join(dir, 'absent'),
    });
    expect(result).toMatchObject({
      online: false,
      rule: 'squawk-unavailable',
      reason: expect.stringMatching(/linter/),
    });
  });

  it('scales down when squawk fails instead of reporting', async () => {
    const broken = join(dir, 'broken');
    writeFileSync(broken, '#!/bin/sh\necho boom >&2\nexit 2\n');
    chmodSync(broken, 0o755);
    const result = await onlineSafety(plan('ALTER TABLE orders ADD COLUMN note text'), { squawk: broken });
    expect(result).toMatchObject({
      online: false,
      rule: 'squawk-unavailable',
      reason: expect.stringMatching(/boom/),
    });
  });
});

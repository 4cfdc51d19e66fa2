import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  currentRevision,
  executePlan,
  migrateToTarget,
  planToTarget,
  type EngineOptions,
} from '../../src/migrations/engine.js';
import { parseMigrationSource } from '../../src/migrations/source.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query } from '../support/db.js';
import { rejection } from '../support/refusal.js';
import { ordersMigrations } from './fixtures.js';

const to = (target: string) => parseTarget(target, { allowRelative: true });

const withA: Record<string, string> = {
  '1_create-a.sql': `-- Up Migration
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a SELECT generate_series(1, 1000);
-- Down Migration
DROP TABLE a;
`,
  '2_create-b.sql': `-- Up Migration
CREATE TABLE b (id int);
-- Down Migration
DROP TABLE b;
`,
};

const withEmptyDrop: Record<string, string> = {
  '1_create-c.sql': '-- Up Migration\nCREATE TABLE c (id int);\n-- Down Migration\nDROP TABLE c;\n',
  '2_drop-c.sql': '-- Up Migration\nDROP TABLE c;\n-- Down Migration\nCREATE TABLE c (id int);\n',
};

async function count(url: string, table: string): Promise<number> {
  const [row] = await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${table}`);
  return row?.n ?? -1;
}

describe('only the planned SQL runs', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('contract') };
  });

  it('runs nothing when a migration file was edited after planning (DROP TABLE a added), and a keeps its rows', async () => {
    await migrateToTarget(options, withA, to('1_create-a'));
    const plan = await planToTarget(options, withA, to('latest'));
    expect(plan.destructive).toBe(false);
    const edited = {
      ...withA,
      '2_create-b.sql': withA['2_create-b.sql']!.replace(
        'CREATE TABLE b (id int);',
        'CREATE TABLE b (id int);\nDROP TABLE a;',
      ),
    };
    // What the operator does at the migrate step: the plan recorded earlier, the files as they are now.
    const err = await rejection(
      executePlan(options, { ...plan, inputs: { ...plan.inputs, source: parseMigrationSource(edited) } }),
    );
    expect(err.code).toBe('PlanChanged');
    expect(err.message).toContain('changed: 2_create-b.sql');
    expect(err.message).toContain('nothing ran');
    expect(await count(options.databaseUrl, 'a')).toBe(1000);
    expect(await currentRevision(options)).toBe('1_create-a');
    expect(await query(options.databaseUrl, "SELECT 1 FROM pg_tables WHERE tablename = 'b'")).toEqual([]);
  });

  it('runs nothing when a table the plan drops was empty when planned and has rows when it would run', async () => {
    await migrateToTarget(options, withEmptyDrop, to('1_create-c'));
    const plan = await planToTarget(options, withEmptyDrop, to('latest'));
    expect(plan.destructive).toBe(false); // c is empty: dropping it loses nothing
    await query(options.databaseUrl, 'INSERT INTO c VALUES (1), (2)');
    const err = await rejection(executePlan(options, plan));
    expect(err.code).toBe('PlanChanged');
    expect(err.message).toContain('DROP TABLE c (2 rows)');
    expect(await count(options.databaseUrl, 'c')).toBe(2);
    expect(await currentRevision(options)).toBe('1_create-c');
    // Judged destructive when planned (and so allowed or approved), the same plan runs.
    const judged = await planToTarget(options, withEmptyDrop, to('latest'));
    expect(judged.destructive).toBe(true);
    await executePlan(options, judged);
    expect(await currentRevision(options)).toBe('2_drop-c');
  });

  it('runs nothing when another tool moved the database between plan and execute: an Up plan never runs down SQL', async () => {
    await migrateToTarget(options, ordersMigrations, to('1_create-orders'));
    const up = await planToTarget(options, ordersMigrations, to('2_add-note'));
    expect(up.direction).toBe('up');
    // Another tool takes the database to latest meanwhile; its customers table gets rows.
    await migrateToTarget(options, ordersMigrations, to('latest'));
    await query(options.databaseUrl, "INSERT INTO customers (name) VALUES ('linus')");
    const err = await rejection(executePlan(options, up));
    expect(err.code).toBe('PlanChanged');
    expect(err.message).toContain('the database moved from 1_create-orders to 3_create-customers');
    expect(await currentRevision(options)).toBe('3_create-customers');
    expect(await count(options.databaseUrl, 'customers')).toBe(3);
  });

  it('executes the plan when nothing changed, and its hash covers statements, not only files', async () => {
    const plan = await planToTarget(options, withA, to('latest'));
    const result = await executePlan(options, plan);
    expect(result).toMatchObject({ revision: '2_create-b', plan: { hash: plan.hash } });
    expect(await count(options.databaseUrl, 'a')).toBe(1000);
  });

  it('refuses a plan whose expected hash is not the one found, running nothing', async () => {
    const err = await rejection(migrateToTarget(options, withA, to('latest'), { expectHash: 'sha256:0000' }));
    expect(err.code).toBe('PlanChanged');
    expect(err.message).toContain('planned sha256:0000');
    expect(await currentRevision(options)).toBe('base');
    const plan = await planToTarget(options, withA, to('latest'));
    await migrateToTarget(options, withA, to('latest'), { expectHash: plan.hash });
    expect(await currentRevision(options)).toBe('2_create-b');
  });
});

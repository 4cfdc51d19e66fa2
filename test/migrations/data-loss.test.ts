import { beforeEach, describe, expect, it } from '@jest/globals';
import { migrateToTarget, planToTarget, type EngineOptions } from '../../src/migrations/engine.js';
import { lossesOf } from '../../src/migrations/planner.js';
import { parseTarget } from '../../src/migrations/target.js';
import { describeDataLoss } from '../../src/sql/index.js';
import { freshDatabase, query } from '../support/db.js';

const to = (target: string) => parseTarget(target, { allowRelative: true });

const invoices: Record<string, string> = {
  '1_invoices.sql': `-- Up Migration
CREATE TABLE invoices (id int PRIMARY KEY, note text);
CREATE TABLE drafts (id int);
-- Down Migration
DROP TABLE drafts;
DROP TABLE invoices;
`,
  '2_scratch.sql': `-- Up Migration
CREATE TABLE scratch (id int);
INSERT INTO scratch VALUES (1);
DROP TABLE scratch;
-- Down Migration
`,
};

describe('data at stake, judged from the parse tree and the database', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('loss') };
  });

  it('does not count dropping what the plan itself created', async () => {
    const plan = await planToTarget(options, invoices, to('latest'));
    expect(plan.dataLoss.candidates).toEqual([]);
    expect(plan.destructive).toBe(false);
  });

  it('names the rows at stake of a real loss and leaves out empty tables', async () => {
    await migrateToTarget(options, invoices, to('latest'));
    await query(options.databaseUrl, 'INSERT INTO invoices SELECT g, NULL FROM generate_series(1, 1204) g');
    const plan = await planToTarget(options, invoices, to('base'));
    expect(plan.destructive).toBe(true);
    expect(lossesOf(plan).map((l) => [l.file, l.line, l.rows])).toEqual([['1_invoices.sql', 6, 1204]]);
    expect(describeDataLoss(lossesOf(plan), plan.dataLoss.notAnalysable)).toContain(
      'DROP TABLE invoices (1,204 rows)',
    );
  });

  it('keeps the message bounded: 20 statements, then "and N more"', async () => {
    const create = Array.from(
      { length: 25 },
      (_, i) => `CREATE TABLE t${i} (id int);\nINSERT INTO t${i} VALUES (1);`,
    );
    const drop = Array.from({ length: 25 }, (_, i) => `DROP TABLE t${i};`);
    const files = {
      '1_many.sql': `-- Up Migration\n${create.join('\n')}\n-- Down Migration\n${drop.join('\n')}\n`,
    };
    await migrateToTarget(options, files, to('latest'));
    const plan = await planToTarget(options, files, to('base'));
    const said = describeDataLoss(lossesOf(plan), plan.dataLoss.notAnalysable);
    expect(said.split('\n')).toHaveLength(21);
    expect(said).toContain('and 5 more');
  });
});

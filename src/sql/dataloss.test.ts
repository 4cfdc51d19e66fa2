import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  findLossCandidates,
  loadSqlParser,
  lossRules,
  parseStatements,
  type PlanAnalysisInput,
} from './index.js';

beforeAll(async () => {
  await loadSqlParser();
});

function plan(...files: string[]): PlanAnalysisInput[] {
  return files.map((sql, i) => {
    const file = `${i + 1}_m.sql`;
    return { file, statements: parseStatements(sql, file) };
  });
}

function analyse(...files: string[]) {
  return findLossCandidates(plan(...files));
}

function kinds(...files: string[]): string[] {
  const { candidates, notAnalysable } = analyse(...files);
  return [...candidates.map((c) => c.kind), ...notAnalysable.map(() => 'not-analysable')];
}

describe('lossRules', () => {
  it.each(lossRules.map((r) => [r.flags, r.example] as const))(
    '%s: flags its example %j',
    (flags, example) => {
      expect(kinds(example)).toContain(flags);
    },
  );
});

describe('findLossCandidates', () => {
  it('flags DROP TYPE, DOMAIN and EXTENSION … CASCADE with the object and CASCADE', () => {
    const { candidates } = analyse(
      'DROP TYPE app.mood CASCADE;\nDROP DOMAIN email CASCADE;\nDROP EXTENSION hstore CASCADE;',
    );
    expect(candidates).toEqual([
      {
        file: '1_m.sql',
        line: 1,
        kind: 'drop-type',
        object: { schema: 'app', name: 'mood' },
        cascade: true,
        description: 'DROP TYPE app.mood CASCADE',
      },
      {
        file: '1_m.sql',
        line: 2,
        kind: 'drop-domain',
        object: { name: 'email' },
        cascade: true,
        description: 'DROP DOMAIN email CASCADE',
      },
      {
        file: '1_m.sql',
        line: 3,
        kind: 'drop-extension',
        object: { name: 'hstore' },
        cascade: true,
        description: 'DROP EXTENSION hstore CASCADE',
      },
    ]);
  });

  it('reports a DROP TABLE inside a DO block as not analysable, never as safe', () => {
    const result = analyse('SELECT 1;\nDO $$ BEGIN DROP TABLE invoices; END $$;');
    expect(result.candidates).toEqual([]);
    expect(result.notAnalysable).toEqual([
      { file: '1_m.sql', line: 2, description: 'DO block', why: 'procedural code is not read as SQL here' },
    ]);
  });

  it('flags UPDATE without WHERE but not UPDATE with one', () => {
    const { candidates } = analyse(
      "UPDATE invoices SET status = 'void';\nUPDATE invoices SET status = 'void' WHERE id = 1;",
    );
    expect(candidates.map((c) => [c.kind, c.line, c.description])).toEqual([
      ['update-all', 1, 'UPDATE invoices without WHERE'],
    ]);
  });

  it('flags ALTER COLUMN … TYPE … USING on the column', () => {
    const { candidates } = analyse(
      'ALTER TABLE billing.invoices ALTER COLUMN total TYPE integer USING total::integer;',
    );
    expect(candidates).toMatchObject([
      {
        kind: 'alter-column-type',
        object: { schema: 'billing', name: 'invoices', column: 'total' },
        description: 'ALTER TABLE billing.invoices ALTER COLUMN total TYPE …',
      },
    ]);
  });

  it('flags a DELETE without WHERE inside a CTE, whatever the outer statement', () => {
    expect(
      analyse('WITH gone AS (DELETE FROM invoices RETURNING id) SELECT count(*) FROM gone;').candidates,
    ).toMatchObject([
      {
        kind: 'delete-all',
        object: { name: 'invoices' },
        description: 'DELETE FROM invoices without WHERE (in a WITH query)',
      },
    ]);
    expect(kinds('WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved;')).toEqual([
      'delete-all',
    ]);
    expect(
      kinds('WITH gone AS (DELETE FROM a WHERE id < 10 RETURNING *) SELECT count(*) FROM gone;'),
    ).toEqual([]);
  });

  it("still sees statements after an E'it\\'s' literal", () => {
    const { candidates } = analyse(
      "INSERT INTO notes VALUES (E'it\\'s; DROP TABLE nope');\nDROP TABLE invoices;",
    );
    expect(candidates.map((c) => [c.line, c.description])).toEqual([[2, 'DROP TABLE invoices']]);
  });

  it('raises no false alarm for drop words in strings, identifiers and comments', () => {
    const sql = [
      "INSERT INTO notes (body) VALUES ('drop me'), ('TRUNCATE invoices; DELETE FROM invoices');",
      'CREATE TABLE "drop this" ("drop column" int);',
      'ALTER TABLE notes ADD COLUMN drop_reason text; -- DROP TABLE notes',
      'SELECT count(*) AS "delete from x" FROM notes WHERE body <> \'UPDATE t SET a = 1\';',
    ].join('\n');
    expect(analyse(sql)).toEqual({ candidates: [], notAnalysable: [] });
  });

  it('does not count dropping a table the same plan created earlier', () => {
    const result = analyse(
      'CREATE TABLE t (a int);',
      'INSERT INTO t VALUES (1);\nTRUNCATE t;',
      'DROP TABLE t;',
    );
    expect(result.candidates).toEqual([]);
  });

  it('still counts dropping a table the plan did not create, even with a similar name', () => {
    expect(kinds('CREATE TABLE app.t (a int);', 'DROP TABLE t; DROP TABLE other.t;')).toEqual([
      'drop-table',
      'drop-table',
    ]);
    expect(kinds('CREATE TABLE app.t (a int);', 'DROP TABLE app.t;')).toEqual([]);
  });

  it('does not count dropping or retyping a column the plan added earlier', () => {
    const result = analyse(
      'ALTER TABLE invoices ADD COLUMN note text;',
      'ALTER TABLE invoices ALTER COLUMN note TYPE varchar(10);\nALTER TABLE invoices DROP COLUMN note, DROP COLUMN total;',
    );
    expect(result.candidates.map((c) => c.description)).toEqual(['ALTER TABLE invoices DROP COLUMN total']);
  });

  it('follows renames and schemas of what the plan created', () => {
    expect(
      kinds(
        'CREATE SCHEMA billing CREATE TABLE invoices (id int);',
        "ALTER TABLE billing.invoices RENAME TO bills;\nCREATE TYPE billing.status AS ENUM ('a');",
        'DROP TABLE billing.bills; DROP TYPE billing.status; DROP SCHEMA billing CASCADE;',
      ),
    ).toEqual([]);
    expect(
      kinds('CREATE TABLE t (a int);', 'ALTER TABLE t RENAME COLUMN a TO b;', 'ALTER TABLE t DROP COLUMN b;'),
    ).toEqual([]);
  });

  it("counts created types, domains, extensions and sequences as the plan's own", () => {
    const created =
      "CREATE TYPE mood AS ENUM ('a'); CREATE DOMAIN email AS text; CREATE EXTENSION hstore; CREATE SEQUENCE n;";
    expect(
      kinds(created, 'DROP TYPE mood; DROP DOMAIN email; DROP EXTENSION hstore; DROP SEQUENCE n;'),
    ).toEqual([]);
  });

  it('compares unqualified names with a default schema when one is given', () => {
    const input = plan('CREATE TABLE t (a int);', 'DROP TABLE public.t;');
    expect(findLossCandidates(input).candidates).toHaveLength(1);
    expect(findLossCandidates(input, { defaultSchema: 'public' }).candidates).toHaveLength(0);
  });

  it('reads a plain SELECT as harmless but a SELECT of an unknown function as not analysable', () => {
    expect(
      kinds("SELECT 1; SELECT count(*), lower('A'), now() FROM invoices; SELECT setval('s', 10);"),
    ).toEqual([]);
    const { notAnalysable } = analyse('SELECT purge_invoices(2020);\nSELECT * FROM app.rebuild();');
    expect(notAnalysable.map((n) => [n.line, n.description])).toEqual([
      [1, 'SELECT calling purge_invoices()'],
      [2, 'SELECT calling app.rebuild()'],
    ]);
  });

  it('reports CALL and EXECUTE as not analysable', () => {
    expect(analyse('CALL purge(1);\nEXECUTE wipe;').notAnalysable.map((n) => n.description)).toEqual([
      'CALL purge(…)',
      'EXECUTE wipe',
    ]);
  });

  it('leaves bodies that do not run now alone: functions, rules, plain EXPLAIN', () => {
    const sql = [
      'CREATE FUNCTION wipe() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM invoices; END;',
      'CREATE FUNCTION wipe2() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM invoices; END $$;',
      'CREATE RULE r AS ON INSERT TO a DO INSTEAD DELETE FROM b;',
      'EXPLAIN DELETE FROM invoices;',
    ].join('\n');
    expect(kinds(sql)).toEqual([]);
    expect(kinds('EXPLAIN (ANALYZE) DELETE FROM invoices;')).toEqual(['delete-all']);
  });

  it('names every object of a multi-object DROP and TRUNCATE', () => {
    const { candidates } = analyse('DROP TABLE a, s.b CASCADE;\nTRUNCATE c, "D";');
    expect(candidates.map((c) => c.description)).toEqual([
      'DROP TABLE a CASCADE',
      'DROP TABLE s.b CASCADE',
      'TRUNCATE c',
      'TRUNCATE "D"',
    ]);
  });

  it('keeps a drop of what the plan created IF NOT EXISTS, marked for the database to decide', () => {
    const { candidates } = analyse(
      'CREATE TABLE IF NOT EXISTS invoices (id int);\nALTER TABLE notes ADD COLUMN IF NOT EXISTS memo text;',
      'DROP TABLE invoices; ALTER TABLE notes DROP COLUMN memo;',
    );
    expect(candidates.map((c) => [c.description, c.createdByPlanIfAbsent])).toEqual([
      ['DROP TABLE invoices', true],
      ['ALTER TABLE notes DROP COLUMN memo', true],
    ]);
    expect(
      kinds('CREATE TABLE t (a int);', 'CREATE TABLE IF NOT EXISTS t (a int);', 'DROP TABLE t;'),
    ).toEqual([]);
  });

  it('remembers the database name of a table or column the plan renamed before dropping it', () => {
    const { candidates } = analyse(
      'ALTER TABLE invoices RENAME TO old_invoices;\nALTER TABLE notes RENAME COLUMN body TO words;',
      'DROP TABLE old_invoices; ALTER TABLE notes DROP COLUMN words; DROP TABLE invoices;',
    );
    expect(candidates.map((c) => [c.description, c.databaseObject])).toEqual([
      ['DROP TABLE old_invoices', { name: 'invoices' }],
      ['ALTER TABLE notes DROP COLUMN words', { name: 'notes', column: 'body' }],
      ['DROP TABLE invoices', undefined],
    ]);
  });
});

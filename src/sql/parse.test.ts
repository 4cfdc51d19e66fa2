import { beforeAll, describe, expect, it } from '@jest/globals';
import { SqlParseError, loadSqlParser, parseStatements } from './index.js';

beforeAll(async () => {
  await loadSqlParser();
});

function texts(sql: string): string[] {
  return parseStatements(sql, 'f.sql').map((s) => s.text);
}

describe('parseStatements', () => {
  it('returns nothing for empty and comments-only input', () => {
    expect(parseStatements('', 'f.sql')).toEqual([]);
    expect(parseStatements('  \n-- only a comment\n/* and /* nested */ one */\n', 'f.sql')).toEqual([]);
  });

  it("keeps an E'it\\'s' literal inside its statement and still sees the next one", () => {
    const sql = "INSERT INTO t VALUES (E'it\\'s; not the end');\nDROP TABLE u;";
    expect(texts(sql)).toEqual(["INSERT INTO t VALUES (E'it\\'s; not the end')", 'DROP TABLE u']);
    expect(parseStatements(sql, 'f.sql').map((s) => s.nodeType)).toEqual(['InsertStmt', 'DropStmt']);
  });

  it('keeps dollar-quoted function bodies with semicolons whole', () => {
    const fn = [
      'CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $fn$',
      'BEGIN',
      "  RAISE NOTICE $$a; b$$; NEW.x := 'y;'; RETURN NEW;",
      'END',
      '$fn$',
    ].join('\n');
    expect(texts(`${fn};\nSELECT 1;`)).toEqual([fn, 'SELECT 1']);
  });

  it('splits around nested block comments and line comments, which stay out of the text', () => {
    const sql = 'SELECT 1 /* a /* nested; */ still; comment */ ;\n-- DROP TABLE x;\nSELECT 2 -- tail; \n';
    expect(texts(sql)).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it("reads a CREATE INDEX CONCURRENTLY file with an E'' literal as two statements", () => {
    const sql = [
      '-- schemaops: no-transaction',
      "CREATE INDEX CONCURRENTLY orders_note ON orders (note) WHERE note <> E'it\\'s';",
      'CREATE INDEX CONCURRENTLY orders_total ON orders (total);',
    ].join('\n');
    const parsed = parseStatements(sql, 'f.sql');
    expect(parsed.map((s) => [s.nodeType, s.line, s.index])).toEqual([
      ['IndexStmt', 2, 0],
      ['IndexStmt', 3, 1],
    ]);
    expect(parsed[0]!.text).toBe(
      "CREATE INDEX CONCURRENTLY orders_note ON orders (note) WHERE note <> E'it\\'s'",
    );
  });

  it('gives each statement its starting line, counting multi-byte text before it', () => {
    const sql = "-- héllo\nSELECT 'é😀';\n\n\n  SELECT\n 2; SELECT 3";
    expect(parseStatements(sql, 'f.sql').map((s) => [s.line, s.text])).toEqual([
      [2, "SELECT 'é😀'"],
      [5, 'SELECT\n 2'],
      [6, 'SELECT 3'],
    ]);
  });

  it('hands out the parse tree node under its type', () => {
    const [s] = parseStatements('DROP TABLE a.b CASCADE', 'f.sql');
    expect(s!.nodeType).toBe('DropStmt');
    expect(s!.node).toMatchObject({ removeType: 'OBJECT_TABLE', behavior: 'DROP_CASCADE' });
  });

  it("refuses a syntax error with PostgreSQL's message, the file, line and column", () => {
    const sql = "SELECT 1;\n-- 😀 comment\nSELECT 'é', x FRM y z;";
    let error: unknown;
    try {
      parseStatements(sql, '0001_init.sql');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SqlParseError);
    const e = error as SqlParseError;
    expect([e.file, e.line, e.column, e.pgMessage]).toEqual([
      '0001_init.sql',
      3,
      19,
      'syntax error at or near "y"',
    ]);
    expect(e.message).toBe('0001_init.sql:3:19: syntax error at or near "y"');
  });

  it('refuses an unterminated dollar quote at its start', () => {
    expect(() => parseStatements('SELECT 1;\nDO $$ BEGIN', 'f.sql')).toThrow(
      'f.sql:2:4: unterminated dollar-quoted string at or near "$$ BEGIN"',
    );
  });
});

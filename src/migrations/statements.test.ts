import { describe, expect, it } from '@jest/globals';
import { scanDestructive } from './destructive.js';
import { splitStatements, stripComments } from './statements.js';

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    const sql = `
      CREATE TABLE "a;b" (note text DEFAULT 'x;y'); -- a comment; with a semicolon
      /* block; /* nested; */ still comment; */
      CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;
      SELECT $$;$$, 'it''s; fine';
      -- only a comment;`;
    const statements = splitStatements(sql);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toContain(`DEFAULT 'x;y')`);
    expect(statements[1]).toContain('RETURN 1; END; $body$ LANGUAGE plpgsql');
    expect(statements[2]).toContain(`'it''s; fine'`);
  });

  it('strips comments but not comment-like text in strings', () => {
    expect(stripComments(`SELECT '--not a comment' /* gone */ -- gone\n, 1`)).toBe(
      `SELECT '--not a comment' , 1`,
    );
  });
});

describe('scanDestructive', () => {
  it('finds statements that lose data and names their kind', () => {
    const found = scanDestructive(
      '5_cleanup',
      `DROP TABLE old_orders;
       ALTER TABLE orders DROP COLUMN legacy;
       ALTER TABLE orders DROP legacy2;
       DROP SCHEMA archive CASCADE;
       TRUNCATE audit;
       DELETE FROM sessions;
       -- DROP TABLE commented_out;`,
    );
    expect(found.map((f) => f.kind)).toEqual([
      'DropTable',
      'DropColumn',
      'DropColumn',
      'DropSchema',
      'Truncate',
      'DeleteWithoutWhere',
    ]);
    expect(found.every((f) => f.revision === '5_cleanup')).toBe(true);
  });

  it('leaves alone statements that lose no rows', () => {
    const found = scanDestructive(
      '6_safe',
      `ALTER TABLE orders DROP CONSTRAINT orders_total_check;
       ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;
       ALTER TABLE orders ALTER COLUMN note DROP NOT NULL;
       DROP INDEX orders_total;
       DELETE FROM sessions WHERE expires_at < now();
       INSERT INTO log (msg) VALUES ('DROP TABLE x');`,
    );
    expect(found).toEqual([]);
  });
});

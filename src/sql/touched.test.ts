import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadSqlParser, parseStatements } from './parse.js';
import { touchedRelations } from './touched.js';

beforeAll(async () => {
  await loadSqlParser();
});

const touched = (sql: string) => touchedRelations(parseStatements(sql, '2_change.sql'));

describe('the relations a plan touches, from the parse tree', () => {
  it('counts what it writes, alters, indexes, truncates, renames or drops, once, and what it creates apart', () => {
    expect(
      touched(`ALTER TABLE orders ADD COLUMN note text;
UPDATE orders SET note = 'x' WHERE id < 10;
INSERT INTO app.audit (note) SELECT note FROM orders;
CREATE INDEX orders_note ON orders (note);
TRUNCATE sessions;
ALTER TABLE legacy RENAME TO legacy_old;
DROP TABLE IF EXISTS tmp_import;
CREATE TABLE invoices (id int, order_id int REFERENCES orders (id));
CREATE INDEX invoices_order ON invoices (order_id);
INSERT INTO invoices VALUES (1, 1);
SELECT count(*) FROM orders;`),
    ).toEqual({
      relations: [
        { name: 'orders' },
        { schema: 'app', name: 'audit' },
        { name: 'sessions' },
        { name: 'legacy' },
        { name: 'tmp_import' },
      ],
      // An index goes with its table: the touched one is replaced, the created one dropped.
      created: [{ name: 'legacy_old' }, { name: 'invoices' }],
    });
  });

  it('cannot tell from a DO block, a function call, or a change to another kind of object, and says where', () => {
    expect(touched('ALTER TABLE a ADD COLUMN b int;\nDO $$BEGIN PERFORM 1; END$$;')).toEqual({
      undeterminable: '2_change.sql:2: a Do statement',
    });
    expect(touched('UPDATE orders SET total = recompute(id);')).toEqual({
      undeterminable: '2_change.sql:1: a call of recompute()',
    });
    expect(touched("ALTER TYPE mood ADD VALUE 'meh';")).toEqual({
      undeterminable: '2_change.sql:1: a AlterEnum statement',
    });
    expect(touched('DROP FUNCTION f();')).toEqual({
      undeterminable: '2_change.sql:1: a Drop of another kind of object',
    });
    // Built-in functions that only compute a value are fine.
    expect(touched('UPDATE orders SET note = lower(note), at = now();')).toEqual({
      relations: [{ name: 'orders' }],
      created: [],
    });
  });
});

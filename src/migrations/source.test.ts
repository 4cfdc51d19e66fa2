import { describe, expect, it } from '@jest/globals';
import { refusal } from '../../test/support/refusal.js';
import { parseMigrationSource } from './source.js';

const file = (up: string, down?: string) =>
  `-- Up Migration\n${up}\n${down === undefined ? '' : `-- Down Migration\n${down}\n`}`;

describe('parseMigrationSource', () => {
  it('orders migrations by number the way node-pg-migrate does, not as strings', () => {
    const source = parseMigrationSource({
      '10_c.sql': file('SELECT 3;', ''),
      '9_b.sql': file('SELECT 2;', ''),
      '1_a.sql': file('SELECT 1;', ''),
      'README.md': 'not a migration',
    });
    expect(source.map((m) => m.revision)).toEqual(['1_a', '9_b', '10_c']);
  });

  it('keeps the up and down sections and tells an empty down (a no-op) from a missing one (irreversible)', () => {
    const [noop, irreversible] = parseMigrationSource({
      '1_noop-down.sql': file('CREATE TABLE a (id int);', ''),
      '2_irreversible.sql': file('CREATE TABLE b (id int);'),
    });
    expect(noop?.up).toContain('CREATE TABLE a');
    expect(noop?.down).toBe('-- Down Migration\n\n');
    expect(irreversible?.down).toBeUndefined();
  });

  it('reads the no-transaction directive', () => {
    const [m] = parseMigrationSource({
      '1_idx.sql': `-- schemaops: no-transaction\n${file('CREATE INDEX CONCURRENTLY i ON t (x);', 'DROP INDEX i;')}`,
    });
    expect(m?.noTransaction).toBe(true);
  });

  it('gives the same checksum whatever the line endings', () => {
    const lf = parseMigrationSource({ '1_a.sql': file('SELECT 1;', '') })[0]!;
    const crlf = parseMigrationSource({ '1_a.sql': file('SELECT 1;', '').replace(/\n/g, '\r\n') })[0]!;
    expect(crlf.checksum).toBe(lf.checksum);
    expect(lf.checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it.each([
    ['add-orders.sql', 'the name must be <number>_<name>.sql'],
    ['1-add-orders.sql', 'the name must be <number>_<name>.sql'],
    ['1_add.up.sql', 'split .up.sql/.down.sql files are not supported'],
  ])('refuses the badly named file %s, naming it', (name, message) => {
    const err = refusal(() => parseMigrationSource({ [name]: file('SELECT 1;', '') }));
    expect(err.code).toBe('InvalidMigrationFile');
    expect(err.file).toBe(name);
    expect(err.message).toContain(name);
    expect(err.message).toContain(message);
  });

  it('refuses two files with the same number, naming both', () => {
    const err = refusal(() =>
      parseMigrationSource({ '1_a.sql': file('SELECT 1;', ''), '001_b.sql': file('SELECT 2;', '') }),
    );
    expect(err.code).toBe('InvalidMigrationFile');
    expect(err.message).toMatch(/1_a\.sql|001_b\.sql/);
    expect(err.message).toContain('also used by');
  });

  it('refuses a file without an up section', () => {
    expect(refusal(() => parseMigrationSource({ '2_b.sql': 'CREATE TABLE b (id int);' })).message).toContain(
      '2_b.sql: no "-- Up Migration" section',
    );
  });
});

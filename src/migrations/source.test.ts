import { describe, expect, it } from '@jest/globals';
import { refusal } from '../../test/support/refusal.js';
import { filesOfConfigMaps, parseMigrationSource } from './source.js';

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

describe('real-world migration sets', () => {
  it('keeps 20-digit numbers apart and in order (they collide as JavaScript numbers)', () => {
    const source = parseMigrationSource({
      '20240101120000000002_b.sql': file('SELECT 2;', ''),
      '20240101120000000001_a.sql': file('SELECT 1;', ''),
      '20240101120000000010_c.sql': file('SELECT 3;', ''),
    });
    expect(source.map((m) => m.revision)).toEqual([
      '20240101120000000001_a',
      '20240101120000000002_b',
      '20240101120000000010_c',
    ]);
  });

  it('accepts an empty up section as a no-op', () => {
    const [m] = parseMigrationSource({ '1_placeholder.sql': '-- Up Migration\n\n-- Down Migration\n' });
    expect(m?.revision).toBe('1_placeholder');
    expect(m?.up.trim()).toBe('-- Up Migration');
    expect(m?.down?.trim()).toBe('-- Down Migration');
  });

  it('gives the same checksum with trailing white space and a final newline added (a YAML | block)', () => {
    const text = file('CREATE TABLE a (id int);', 'DROP TABLE a;');
    const plain = parseMigrationSource({ '1_a.sql': text })[0]!;
    const yaml = parseMigrationSource({ '1_a.sql': `${text.replace(/;\n/g, ';   \n')}\n\n` })[0]!;
    expect(yaml.checksum).toBe(plain.checksum);
    const edited = parseMigrationSource({ '1_a.sql': text.replace('id int', 'id bigint') })[0]!;
    expect(edited.checksum).not.toBe(plain.checksum);
  });
});

describe('filesOfConfigMaps', () => {
  const sql = file('SELECT 1;', '');
  const base64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

  it('reads binaryData files as UTF-8 beside data files, across ConfigMaps', () => {
    const files = filesOfConfigMaps([
      { name: 'part-1', data: { '1_a.sql': sql } },
      { name: 'part-2', binaryData: { '2_b.sql': base64(file("INSERT INTO t VALUES ('café');", '')) } },
    ]);
    expect(Object.keys(files)).toEqual(['1_a.sql', '2_b.sql']);
    expect(files['2_b.sql']).toContain('café');
  });

  it('refuses a binaryData file that is not UTF-8, by name', () => {
    const latin1 = Buffer.from(file("INSERT INTO t VALUES ('caf\u00e9');", ''), 'latin1');
    const err = refusal(() =>
      filesOfConfigMaps([{ name: 'part-1', binaryData: { '1_a.sql': base64(latin1) } }]),
    );
    expect(err).toMatchObject({ code: 'InvalidMigrationFile', file: '1_a.sql' });
    expect(err.message).toContain('binaryData of ConfigMap part-1 is not UTF-8');
  });

  it('reads binaryData given as bytes (as the Kubernetes client returns it) the same as base64', () => {
    const text = file("INSERT INTO t VALUES ('café');", '');
    const files = filesOfConfigMaps([
      { name: 'part-1', binaryData: { '1_a.sql': Buffer.from(text, 'utf8') } },
    ]);
    expect(files).toEqual({ '1_a.sql': text });
    const latin1 = Buffer.from(text, 'latin1');
    const err = refusal(() => filesOfConfigMaps([{ name: 'part-2', binaryData: { '2_b.sql': latin1 } }]));
    expect(err.message).toContain('2_b.sql: binaryData of ConfigMap part-2 is not UTF-8');
  });

  it('refuses a file name found in two ConfigMaps, naming both', () => {
    const err = refusal(() =>
      filesOfConfigMaps([
        { name: 'part-1', data: { '1_a.sql': sql } },
        { name: 'part-2', data: { '1_a.sql': sql, 'README.md': 'x' } },
      ]),
    );
    expect(err).toMatchObject({ code: 'InvalidMigrationFile', file: '1_a.sql' });
    expect(err.message).toContain('in ConfigMaps part-1 and part-2');
  });
});

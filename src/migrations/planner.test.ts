import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadSqlParser } from '../sql/index.js';
import { refusal } from '../../test/support/refusal.js';
import { planMigration } from './planner.js';
import { parseMigrationSource, type Migration } from './source.js';
import type { ArchivedMigration, DatabaseState } from './state.js';
import { parseTarget } from './target.js';

const files = {
  '1_orders.sql': '-- Up Migration\nCREATE TABLE orders (id int);\n-- Down Migration\nDROP TABLE orders;\n',
  '2_note.sql': '-- Up Migration\nALTER TABLE orders ADD note text;\n-- Down Migration\n',
  '3_irreversible.sql': '-- Up Migration\nUPDATE orders SET note = upper(note);\n',
  '4_index.sql': '-- Up Migration\nCREATE INDEX i ON orders (id);\n-- Down Migration\nDROP INDEX i;\n',
};
const source = parseMigrationSource(files);

function archived(m: Migration): ArchivedMigration {
  return { ...m, appliedAt: new Date(0) };
}

function at(count: number, from = source): DatabaseState {
  const applied = from.slice(0, count);
  return {
    applied: applied.map((m) => ({ revision: m.revision, runOn: new Date(0) })),
    archive: new Map(applied.map((m) => [m.revision, archived(m)])),
  };
}

const plan = (state: DatabaseState, target: string, src = source) =>
  planMigration(src, state, parseTarget(target, { allowRelative: true }));

beforeAll(loadSqlParser);

describe('planMigration', () => {
  it('plans up to latest from base, in order', () => {
    const p = plan(at(0), '2_note');
    expect(p).toMatchObject({ direction: 'up', from: 'base', to: '2_note' });
    expect(p.migrations.map((m) => m.revision)).toEqual(['1_orders', '2_note']);
  });

  it('plans a rollback to a revision, newest first, with the down SQL', () => {
    const p = plan(at(2), '1_orders');
    expect(p).toMatchObject({ direction: 'down', from: '2_note', to: '1_orders' });
    expect(p.migrations.map((m) => [m.revision, m.sql])).toEqual([['2_note', '-- Down Migration\n']]);
  });

  it('plans relative steps and base', () => {
    expect(plan(at(0), '+1').migrations.map((m) => m.revision)).toEqual(['1_orders']);
    expect(plan(at(2), '-2')).toMatchObject({ direction: 'down', to: 'base' });
    expect(plan(at(2), 'base').migrations.map((m) => m.revision)).toEqual(['2_note', '1_orders']);
  });

  it('is a no-op at the target, with an empty plan', () => {
    const p = plan(at(2), '2_note');
    expect(p.migrations).toEqual([]);
    expect(p).toMatchObject({ from: '2_note', to: '2_note', destructive: false });
  });

  it('marks a rollback that drops a table as destructive and lists the statement', () => {
    const p = plan(at(1), 'base');
    expect(p.destructive).toBe(true);
    expect(p.dataLoss.candidates).toMatchObject([{ file: '1_orders.sql', line: 4 }]);
  });

  it('gives the same plan the same hash and a different plan another', () => {
    expect(plan(at(0), '2_note').hash).toBe(plan(at(0), '2_note').hash);
    expect(plan(at(0), '2_note').hash).not.toBe(plan(at(0), '1_orders').hash);
  });

  it('refuses an unknown target, naming the file', () => {
    const err = refusal(() => plan(at(0), '9_missing'));
    expect(err).toMatchObject({ code: 'UnknownTarget', file: '9_missing.sql' });
    expect(refusal(() => plan(at(1), '-2')).code).toBe('UnknownTarget');
    expect(refusal(() => plan(at(3), '+2')).message).toContain('only 1 migration(s) are pending');
  });

  it('refuses to roll back through an irreversible migration, naming it', () => {
    const err = refusal(() => plan(at(4), '2_note'));
    expect(err).toMatchObject({ code: 'IrreversibleMigration', file: '3_irreversible.sql' });
  });

  it('refuses an applied file that changed since it was applied', () => {
    const edited = parseMigrationSource({
      ...files,
      '2_note.sql': files['2_note.sql'].replace('note', 'memo'),
    });
    const err = refusal(() => plan(at(2), 'latest', edited));
    expect(err).toMatchObject({ code: 'ChecksumDrift', file: '2_note.sql' });
  });

  it('rolls back from the archive when the file is gone from the source', () => {
    const p = plan(at(2), '1_orders', source.slice(0, 1));
    expect(p.migrations).toMatchObject([
      { revision: '2_note', origin: 'archive', sql: '-- Down Migration\n' },
    ]);
  });

  it('refuses an applied migration found neither in the files nor in the archive', () => {
    const state = { ...at(2), archive: new Map() };
    const err = refusal(() => plan(state, 'latest', source.slice(0, 1)));
    expect(err).toMatchObject({ code: 'MissingMigration', file: '2_note.sql' });
  });

  it('refuses a new file that sorts before the last applied one', () => {
    const withEarly = parseMigrationSource({
      ...files,
      '0_early.sql': '-- Up Migration\nSELECT 1;\n-- Down Migration\n',
    });
    const err = refusal(() => plan(at(2), 'latest', withEarly));
    expect(err).toMatchObject({ code: 'OutOfOrderMigration', file: '0_early.sql' });
  });
});

describe('parseTarget', () => {
  it('reads what people type and refuses the rest', () => {
    expect(parseTarget('latest')).toEqual({ kind: 'latest' });
    expect(parseTarget('base')).toEqual({ kind: 'base' });
    expect(parseTarget('2_note.sql')).toEqual({ kind: 'revision', revision: '2_note' });
    expect(parseTarget('-2', { allowRelative: true })).toEqual({ kind: 'relative', steps: -2 });
    expect(() => parseTarget('-2')).toThrow('only accepted by the CLI');
    expect(() => parseTarget('+0', { allowRelative: true })).toThrow('moves nowhere');
    expect(() => parseTarget('drop table')).toThrow('is not a target');
  });
});

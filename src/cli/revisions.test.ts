import { describe, expect, it } from '@jest/globals';
import { CommandError } from './errors.js';
import { closestRevisions, editDistance, parseTargetArg, resolveRevision } from './revisions.js';

const known = [
  '1_create-orders',
  '2_add-note',
  '20_add-notes-index',
  '1732200000000_create-customers',
  '1732200000001_add-customer-email',
];

function refusal(run: () => unknown): CommandError {
  try {
    run();
  } catch (err) {
    if (err instanceof CommandError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('revision arguments', () => {
  it('takes a whole revision, its file name, its number, or the start of one name', () => {
    expect(resolveRevision('2_add-note', known)).toBe('2_add-note');
    expect(resolveRevision('2_add-note.sql', known)).toBe('2_add-note');
    // `2` starts both 2_add-note and 20_add-notes-index, but is the number of only one.
    expect(resolveRevision('2', known)).toBe('2_add-note');
    expect(resolveRevision('20', known)).toBe('20_add-notes-index');
    expect(resolveRevision('1732200000001', known)).toBe('1732200000001_add-customer-email');
    expect(resolveRevision('1_cr', known)).toBe('1_create-orders');
  });

  it('lists the candidates of an ambiguous prefix', () => {
    const err = refusal(() => resolveRevision('17322', known));
    expect(err.code).toBe('AmbiguousRevision');
    expect(err.message).toBe(
      '"17322" matches 2 migrations: 1732200000000_create-customers, 1732200000001_add-customer-email; give more of the name',
    );
    expect(err.details).toEqual({
      candidates: ['1732200000000_create-customers', '1732200000001_add-customer-email'],
    });
  });

  it('suggests the closest names for an unknown revision, by whole name or by the name after the number', () => {
    const err = refusal(() => resolveRevision('add-nte', known));
    expect(err.code).toBe('UnknownTarget');
    expect(err.message).toMatch(
      /^no migration "add-nte" in the migration files or the database; did you mean 2_add-note, /,
    );
    expect(closestRevisions('3_create-orders', known, 1)).toEqual(['1_create-orders']);
    expect(refusal(() => resolveRevision('9_x', [])).message).toContain('(there are none)');
  });

  it('reads keywords and relative steps as targets and refuses what cannot name a revision', () => {
    expect(parseTargetArg('latest')).toEqual({ kind: 'latest' });
    expect(parseTargetArg('base')).toEqual({ kind: 'base' });
    expect(parseTargetArg('-2')).toEqual({ kind: 'relative', steps: -2 });
    expect(parseTargetArg('17322')).toEqual({ kind: 'prefix', prefix: '17322' });
    expect(() => parseTargetArg('drop table')).toThrow('"drop table" is not a target');
    expect(() => parseTargetArg('+0')).toThrow('moves nowhere');
  });

  it('measures edit distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});

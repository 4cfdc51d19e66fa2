import { describe, expect, it } from '@jest/globals';
import { PluginError } from './errors.js';
import { parseSteps, revisionsOf, stepsBack } from './revisions.js';

describe('rollback targets', () => {
  it('sorts the files of several ConfigMaps by their number, as integers, text and binary keys alike', () => {
    const revisions = revisionsOf([
      { data: { '10_c.sql': '', 'README.md': '' } },
      { data: { '2_b.sql': '' }, binaryData: { '1_a.sql': '' } },
      { data: { '100000000000000000001_d.sql': '', '99999999999999999999_e.sql': '' } },
    ]);
    expect(revisions).toEqual(['1_a', '2_b', '10_c', '99999999999999999999_e', '100000000000000000001_d']);
  });

  it('counts -N back from the current revision, to base at most', () => {
    const revisions = ['1_a', '2_b', '10_c'];
    expect(stepsBack(revisions, '10_c', 1)).toBe('2_b');
    expect(stepsBack(revisions, '10_c', 2)).toBe('1_a');
    expect(stepsBack(revisions, '10_c', 3)).toBe('base');
    expect(stepsBack(revisions, '2_b', 1)).toBe('1_a');
    expect(() => stepsBack(revisions, '10_c', 4)).toThrow('only 3 are applied');
    expect(() => stepsBack(revisions, 'base', 1)).toThrow('nothing to roll back');
    expect(() => stepsBack(revisions, '7_gone', 1)).toThrow(PluginError);
  });

  it('reads -N as a count and anything else as a revision', () => {
    expect(parseSteps('-1')).toBe(1);
    expect(parseSteps('-12')).toBe(12);
    expect(parseSteps('2_b')).toBeUndefined();
    expect(parseSteps('base')).toBeUndefined();
    expect(() => parseSteps('-0')).toThrow('N of 1 or more');
  });
});

import { describe, expect, it } from '@jest/globals';
import { describeDataLoss, type DataLoss, type NotAnalysable } from './index.js';

function loss(i: number, name = `invoices_${i}`): DataLoss {
  const description = `DROP TABLE ${name}`;
  return {
    file: `${i}_drop.sql`,
    line: 1,
    kind: 'drop-table',
    object: { name },
    cascade: false,
    description,
    rows: 1204,
    detail: `${description} (1,204 rows)`,
  };
}

describe('describeDataLoss', () => {
  it('shows 20 of 100 losses, then says how many more, in under 4 KiB', () => {
    const text = describeDataLoss(
      Array.from({ length: 100 }, (_, i) => loss(i)),
      [],
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(21);
    expect(lines[0]).toBe('0_drop.sql:1: DROP TABLE invoices_0 (1,204 rows)');
    expect(lines[20]).toBe('and 80 more');
    expect(Buffer.byteLength(text)).toBeLessThan(4096);
  });

  it('stays under 4 KiB with very long multi-byte names', () => {
    const losses = Array.from({ length: 30 }, (_, i) => loss(i, `тaблица_${'ж'.repeat(2000)}`));
    const text = describeDataLoss(losses, []);
    expect(Buffer.byteLength(text)).toBeLessThan(4096);
    expect(text.split('\n')).toHaveLength(21);
    expect(text).not.toContain('\uFFFD');
  });

  it('lists statements that cannot be analysed after the losses, within the same limit', () => {
    const notAnalysable: NotAnalysable[] = [
      { file: '3_fix.sql', line: 7, description: 'DO block', why: 'procedural code is not read as SQL here' },
    ];
    expect(describeDataLoss([loss(1), loss(2)], notAnalysable, 2)).toBe(
      [
        '1_drop.sql:1: DROP TABLE invoices_1 (1,204 rows)',
        '2_drop.sql:1: DROP TABLE invoices_2 (1,204 rows)',
        'and 1 more',
      ].join('\n'),
    );
    expect(describeDataLoss([], notAnalysable)).toBe(
      '3_fix.sql:7: DO block (not analysable: procedural code is not read as SQL here)',
    );
  });

  it('says nothing when there is nothing at stake', () => {
    expect(describeDataLoss([], [])).toBe('');
  });
});

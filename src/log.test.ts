import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from './log.js';

function capture(level: string) {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return {
    log: createLogger(level, sink),
    lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('the root logger', () => {
  it('writes level names and ISO-8601 times, with the data object first', () => {
    const { log, lines } = capture('info');
    const before = Date.now();
    log.warn({ key: 'shop/orders', reason: 'UnknownTarget' }, 'refused');
    const [line] = lines();
    expect(line).toMatchObject({
      level: 'warn',
      key: 'shop/orders',
      reason: 'UnknownTarget',
      msg: 'refused',
    });
    expect(line?.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(Date.parse(String(line?.time))).toBeGreaterThanOrEqual(before - 1);
  });

  it('keeps the level names in child loggers and drops lines below the level', () => {
    const { log, lines } = capture('info');
    const child = log.child({ reconcileId: 'ab12' });
    child.debug('hidden');
    child.error({ reason: 'MigrationFailed' }, 'run failed');
    expect(lines()).toEqual([
      expect.objectContaining({ level: 'error', reconcileId: 'ab12', msg: 'run failed' }),
    ]);
  });
});

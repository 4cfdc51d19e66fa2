import { describe, expect, it } from '@jest/globals';
import { freshDatabase, query } from './db.js';

describe('test PostgreSQL harness', () => {
  it('gives each caller its own empty database with password authentication', async () => {
    const a = await freshDatabase();
    const b = await freshDatabase();
    expect(a).not.toEqual(b);
    await query(a, 'CREATE TABLE only_in_a (id int)');
    const tables = await query(b, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_a'");
    expect(tables[0]?.n).toBe(0);
  });
});

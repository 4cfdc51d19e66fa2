import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { currentRevision, executePlan, migrateToTarget, planToTarget } from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query } from '../support/db.js';
import { realWorldCorpus } from './corpus.js';

/** The schema as pg_dump prints it, without the random `\restrict` key newer pg_dump versions add. */
async function schemaDump(url: string): Promise<string> {
  const { stdout } = await promisify(execFile)('pg_dump', ['--schema-only', '--no-owner', url], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((line) => !/^\\(un)?restrict /.test(line))
    .join('\n');
}

describe('a generated set of 300+ migrations in real-world shapes', () => {
  it('goes latest -> base -> latest with an identical pg_dump --schema-only, and from base loses no data', async () => {
    const options = { databaseUrl: await freshDatabase('corpus') };
    const files = realWorldCorpus(300);
    const plan = await planToTarget(options, files, parseTarget('latest'));
    expect(plan.migrations.length).toBeGreaterThanOrEqual(300);
    expect(plan.dataLoss).toMatchObject({ candidates: [], notAnalysable: [] });
    expect(plan.destructive).toBe(false);
    expect(plan.segments.some((s) => !s.transaction)).toBe(true);
    await executePlan(options, plan);
    const latest = plan.to;
    expect(await currentRevision(options)).toBe(latest);
    const first = await schemaDump(options.databaseUrl);
    expect(first).toContain('CREATE TRIGGER');

    await migrateToTarget(options, files, parseTarget('base'));
    expect(await currentRevision(options)).toBe('base');
    const left = await query<{ n: number }>(
      options.databaseUrl,
      "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname NOT LIKE 'pgmigrations%'",
    );
    expect(left).toEqual([{ n: 0 }]);

    await migrateToTarget(options, files, parseTarget('latest'));
    expect(await currentRevision(options)).toBe(latest);
    expect(await schemaDump(options.databaseUrl)).toBe(first);
  });
});

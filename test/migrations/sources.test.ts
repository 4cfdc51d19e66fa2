import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  currentRevision,
  migrateToTarget,
  migrationHistory,
  planToTarget,
  type EngineOptions,
} from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query } from '../support/db.js';
import { rejection } from '../support/refusal.js';

const to = (target: string) => parseTarget(target, { allowRelative: true });

const seeded: Record<string, string> = {
  '20240101120000000001_plans.sql': `-- Up Migration
CREATE TABLE plans (name text PRIMARY KEY);
-- Down Migration
DROP TABLE plans;
`,
  '20240101120000000002_seed.sql': `-- Up Migration
INSERT INTO plans VALUES ('free'), ('pro');
-- Down Migration
DELETE FROM plans WHERE name IN ('free', 'pro');
`,
  '20240101120000000003_placeholder.sql': `-- Up Migration

-- Down Migration
`,
};

describe('real-world migration sets on a real PostgreSQL', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('sources') };
  });

  it('applies 20-digit numbers in order and records an empty up section as a no-op migration', async () => {
    await migrateToTarget(options, seeded, to('latest'));
    expect((await migrationHistory(options)).map((h) => h.revision)).toEqual([
      '20240101120000000001_plans',
      '20240101120000000002_seed',
      '20240101120000000003_placeholder',
    ]);
    await migrateToTarget(options, seeded, to('20240101120000000002_seed'));
    expect(await currentRevision(options)).toBe('20240101120000000002_seed');
  });

  it('refuses an applied migration renamed under the same number, naming both, and runs nothing again', async () => {
    await migrateToTarget(options, seeded, to('latest'));
    const { '20240101120000000002_seed.sql': seed, ...rest } = seeded;
    const renamed = { ...rest, '20240101120000000002_seed-plans.sql': seed! };
    const err = await rejection(migrateToTarget(options, renamed, to('latest')));
    expect(err).toMatchObject({ code: 'RenamedMigration', file: '20240101120000000002_seed-plans.sql' });
    expect(err.message).toContain('20240101120000000002_seed.sql');
    expect(await query(options.databaseUrl, 'SELECT count(*)::int AS n FROM plans')).toEqual([{ n: 2 }]);
  });

  it('does not call a trailing newline or trailing spaces (a YAML | block) checksum drift', async () => {
    await migrateToTarget(options, seeded, to('latest'));
    const fromYaml = Object.fromEntries(
      Object.entries(seeded).map(([name, text]) => [name, `${text.replace(/;\n/g, ';  \n')}\n`]),
    );
    const plan = await planToTarget(options, fromYaml, to('latest'));
    expect(plan.migrations).toEqual([]);
    await migrateToTarget(options, fromYaml, to('20240101120000000001_plans'));
    expect(await currentRevision(options)).toBe('20240101120000000001_plans');
  });
});

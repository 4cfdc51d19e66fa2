import { describe, expect, it } from '@jest/globals';
import { silentObserver, type RunObserver } from '../../src/controller/context.js';
import { currentRevision, migrateToTarget } from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { query } from '../support/db.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  isStalled,
  migrationSpec,
  harnessForFile,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const files: Record<string, string> = {
  '1_create-a.sql': `-- Up Migration
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a SELECT generate_series(1, 1000);
-- Down Migration
DROP TABLE a;
`,
  '2_create-b.sql': `-- Up Migration
CREATE TABLE b (id int);
-- Down Migration
DROP TABLE b;
`,
};

describe('the migrate step executes the plan recorded in status', () => {
  it('ends the run without SQL when the ConfigMap is edited after planning, and starts again from the beginning', async () => {
    const fixture = { files, workload: { kind: 'Deployment' as const, replicas: 3 } };
    const f = await createFixture(h, fixture);
    await migrateToTarget({ databaseUrl: f.databaseUrl }, files, parseTarget('1_create-a'));
    const events: { type: string; reason: string; note: string }[] = [];
    const observer: RunObserver = {
      ...silentObserver,
      event: (_object, type, reason, note) => events.push({ type, reason, note }),
    };
    const ctx = { ...h.context(), observer };
    await createMigration(h, f, migrationSpec(fixture, { policy: { allowDataLoss: false } }));
    // The run starts: plan 1_create-a -> 2_create-b in status, the workload going down.
    await converge(h, f, (o) => o?.status?.plan?.startedAt !== undefined, { ctx });
    const planned = (await h.kube.getSchemaMigration(f.ref))?.status?.plan;
    expect(planned).toMatchObject({ from: '1_create-a', to: '2_create-b', destructive: false });

    const edited = files['2_create-b.sql']!.replace(
      'CREATE TABLE b (id int);',
      'CREATE TABLE b (id int);\nDROP TABLE a;',
    );
    await h.core.replaceNamespacedConfigMap({
      name: 'orders-migrations',
      namespace: f.namespace,
      body: { metadata: { name: 'orders-migrations' }, data: { ...files, '2_create-b.sql': edited } },
    });
    await converge(h, f, (o) => isStalled(o), { ctx });

    expect(events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'PlanChanged' }));
    const object = await h.kube.getSchemaMigration(f.ref);
    // The new run planned again from the edited files and refused the data loss it now carries.
    expect(condition(object, 'Stalled')).toMatchObject({ reason: 'DataLossNotAllowed' });
    expect(condition(object, 'Stalled')?.message).toContain('DROP TABLE a (1,000 rows)');
    expect(await query(f.databaseUrl, 'SELECT count(*)::int AS n FROM a')).toEqual([{ n: 1000 }]);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-a');
    const workload = await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
    expect(workload?.replicas).toBe(3);
  });
});

import pg from 'pg';
import { describe, expect, it } from '@jest/globals';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { query, testPostgres } from '../support/db.js';
import { waitFor } from '../localcluster/support.js';
import { deploymentWithBackup, files } from './fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  isReady,
  isStalled,
  listBackupJobs,
  whileDownBackup,
  mergePatch,
  migrationSpec,
  patchMigration,
  runUntilStopped,
  harnessForFile,
  stopsAt,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = deploymentWithBackup;

async function workload(f: Fixture) {
  return h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
}

describe('a fresh operator resumes a run where the last one stopped', () => {
  it('after the scale-down, before the backup Job: one Job, replicas back', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'createJob', whileDownBackup));
    expect(await workload(f)).toMatchObject({ replicas: 0 });
    // The whole database was dumped before the scale-down; the touched tables' dump is next.
    expect(await listBackupJobs(h, f)).toHaveLength(1);

    const replicas = await converge(h, f, isReady, { workload: 'Deployment' });
    expect(replicas.at(-1)).toBe(3);
    expect(await listBackupJobs(h, f)).toHaveLength(2);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });

  it('during the backup Job: the Job is adopted, not duplicated', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'getJobPodEnd'));
    expect(await listBackupJobs(h, f)).toHaveLength(1);

    await converge(h, f, isReady);
    // The one before the scale-down, and the one of the touched tables: none twice.
    expect(await listBackupJobs(h, f)).toHaveLength(2);
    expect(await workload(f)).toMatchObject({ replicas: 3, currentReplicas: 3 });
  });

  it('after the migration, before the restore: the database is not migrated twice and replicas come back', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(
      h,
      f,
      stopsAt(h.context().kube, 'scaleWorkload', (_kind, _ref, replicas) => replicas > 0),
    );
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(await workload(f)).toMatchObject({ replicas: 0 });

    await converge(h, f, isReady);
    expect(await workload(f)).toMatchObject({ replicas: 3, currentReplicas: 3 });
    const applied = await query(f.databaseUrl, 'SELECT name FROM pgmigrations');
    expect(applied).toHaveLength(3);
    expect(await listBackupJobs(h, f)).toHaveLength(2);
    expect((await h.kube.getSchemaMigration(f.ref))?.status?.history).toHaveLength(1);
  });
});

describe('deletion and recovery', () => {
  it('deleting a SchemaMigration mid-run restores the replicas first', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'createJob', whileDownBackup));
    expect(await workload(f)).toMatchObject({ replicas: 0 });
    await h.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: f.namespace,
      name: f.ref.name,
    });
    await converge(h, f, (o) => o === undefined);
    await waitFor(async () => (await workload(f))?.currentReplicas === 3, { what: 'replicas restored' });
    expect((await workload(f))?.annotations).not.toHaveProperty(['schemaops.dev/original-replicas']);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
  });

  it('rolls back from the archive after the newer files were removed from the ConfigMap', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await converge(h, f, isReady);
    const reverted = { '1_create-orders.sql': files['1_create-orders.sql']! };
    await h.core.replaceNamespacedConfigMap({
      name: 'orders-migrations',
      namespace: f.namespace,
      body: { metadata: { name: 'orders-migrations' }, data: reverted },
    });
    await patchMigration(h, f, { spec: { targetRevision: '1_create-orders' } });
    await converge(h, f, (o) => isReady(o) && o?.status?.currentRevision === '1_create-orders');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    expect(await query(f.databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
  });

  it('a backup Job that fails runs no SQL, restores the replicas, and is retried after the retry annotation', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '1_create-orders' }));
    await converge(h, f, isReady);
    // pg_dump waits for this lock until the Job's deadline (timeouts.backup) ends it.
    const holder = new pg.Client({ connectionString: f.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      await patchMigration(h, f, { spec: { targetRevision: 'latest', timeouts: { backup: '2s' } } });
      await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined);
    } finally {
      await holder.end();
    }
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')?.reason).toBe('BackupTimedOut');
    expect(object?.status?.phase).toBe('Failed');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    expect(await query(f.databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
    await waitFor(async () => (await workload(f))?.currentReplicas === 3, { what: 'replicas restored' });

    await h.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace: f.namespace,
        name: f.ref.name,
        body: { metadata: { annotations: { 'schemaops.dev/retry': '1' } } },
      },
      mergePatch,
    );
    await converge(h, f, isReady, { timeoutMs: 30_000 });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });
});

describe('secrets', () => {
  it('never reach the operator logs or any SchemaMigration status', async () => {
    const { password } = testPostgres();
    const objects = await h.kube.listSchemaMigrations();
    expect(objects.length).toBeGreaterThan(0);
    const everything = [...h.logs, JSON.stringify(objects)].join('\n');
    expect(everything).not.toContain(password);
    expect(everything).not.toMatch(/postgres:\/\/[^\s"]*@/);
  });
});

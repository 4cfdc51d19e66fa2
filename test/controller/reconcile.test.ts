import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { failingFourth, files } from './fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  isReady,
  isStalled,
  listBackupJobs,
  migrationSpec,
  patchMigration,
  recordPodCounts,
  recordPhases,
  harnessForFile,
  transitions,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const deployment = { kind: 'Deployment' as const, replicas: 3 };

describe('a SchemaMigration taken end to end', () => {
  it('migrates up on create: scales down, backs up, migrates, restores, reports Ready', async () => {
    const options = { files, workload: deployment, pvc: true };
    const f = await createFixture(h, options);
    const recorder = await recordPhases(h, f);
    await createMigration(h, f, migrationSpec(options));
    const replicas = await converge(h, f, isReady, { workload: 'Deployment' });
    recorder.stop();
    // Each step's phase is entered once and never returns: no step rewrites an earlier step's phase while a
    // later one waits (a write that would trigger another reconcile, and another write). The two backups
    // are two steps: the whole database before the scale-down, the tables the plan touches after it.
    expect(transitions(recorder.phases())).toEqual([
      'BackingUp',
      'ScalingDown',
      'BackingUp',
      'Migrating',
      'RestoringWorkload',
      'Ready',
    ]);

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(await query(f.databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
    expect(replicas).toContain(0);
    expect(replicas.at(-1)).toBe(3);
    const workload = await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
    expect(workload).toMatchObject({ replicas: 3, currentReplicas: 3 });
    expect(workload?.annotations['schemaops.dev/original-replicas']).toBeUndefined();

    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status).toMatchObject({ phase: 'Ready', currentRevision: '3_create-customers' });
    expect(object?.status?.plan).toBeUndefined();
    expect(object?.metadata.finalizers ?? []).toEqual([]);
    expect(condition(object, 'Reconciling')?.status).toBe('False');
    expect(condition(object, 'Stalled')?.status).toBe('False');
    expect(condition(object, 'BackedUp')?.status).toBe('True');
    expect(condition(object, 'Migrated')?.status).toBe('True');
    const [entry] = object?.status?.history ?? [];
    expect(entry).toMatchObject({
      from: 'base',
      to: '3_create-customers',
      direction: 'Up',
      outcome: 'Succeeded',
    });

    const jobs = await listBackupJobs(h, f);
    expect(jobs).toHaveLength(2);
    const dumps = readdirSync(h.cluster.pvcDir(f.namespace, 'orders-backups')).sort();
    const [whole, tables] = [object?.status?.backups?.[1], object?.status?.backups?.[0]];
    expect(whole).toMatchObject({ scope: 'Full', pointInTime: 'BeforeScaleDown', revision: 'base' });
    expect(tables).toMatchObject({ scope: 'Tables', pointInTime: 'WhileDown', tables: 0 });
    const file = whole!.file;
    expect(dumps).toEqual(
      [file, `${file}.counts`, tables!.file, `${tables!.file}.counts`, `${tables!.file}.relations`].sort(),
    );
    expect(entry?.backupFile).toBe(file);
    const listing = execFileSync(
      'pg_restore',
      ['--list', join(h.cluster.pvcDir(f.namespace, 'orders-backups'), file)],
      { encoding: 'utf8' },
    );
    expect(listing).toContain('TOC');
  });

  it('rolls back when targetRevision is patched, keeping the rows of the tables that stay', async () => {
    const options = { files, workload: deployment, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await converge(h, f, isReady);
    await query(f.databaseUrl, "UPDATE orders SET note = 'kept' WHERE id = 1");
    await patchMigration(h, f, { spec: { targetRevision: '1_create-orders' } });
    const replicas = await converge(
      h,
      f,
      (o) => isReady(o) && o?.status?.currentRevision === '1_create-orders',
      { workload: 'Deployment' },
    );

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    expect(await query(f.databaseUrl, 'SELECT id, total FROM orders ORDER BY id')).toEqual([
      { id: 1, total: 10 },
      { id: 2, total: 20 },
      { id: 3, total: 30 },
    ]);
    expect(replicas).toContain(0);
    expect(replicas.at(-1)).toBe(3);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.history?.map((e) => [e.direction, e.to])).toEqual([
      ['Down', '1_create-orders'],
      ['Up', '3_create-customers'],
    ]);
    expect(await listBackupJobs(h, f)).toHaveLength(4);
  });

  it('goes to base with no workload and no backup', async () => {
    const options = { files };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '2_add-note' }));
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-note');
    await patchMigration(h, f, { spec: { targetRevision: 'base' } });
    await converge(h, f, (o) => isReady(o) && o?.status?.currentRevision === 'base');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
    const tables = await query(
      f.databaseUrl,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders'",
    );
    expect(tables).toEqual([]);
    expect(await listBackupJobs(h, f)).toEqual([]);
    expect(condition(await h.kube.getSchemaMigration(f.ref), 'BackedUp')?.reason).toBe('BackupNotConfigured');
  });

  it('scales a StatefulSet down and back', async () => {
    const options = { files, workload: { kind: 'StatefulSet' as const, replicas: 2 } };
    const f = await createFixture(h, options);
    const pods = await recordPodCounts(h, f);
    await createMigration(h, f, migrationSpec(options));
    const replicas = await converge(h, f, isReady, { workload: 'StatefulSet' });
    pods.stop();
    // No backup: the pods may be gone and back between two passes, so the pod events tell.
    expect(pods.counts()).toContain(0);
    expect(replicas.at(-1)).toBe(2);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });

  it('leaves the database unchanged when a migration fails, restores the replicas, and stalls naming the file', async () => {
    const options = { files: failingFourth, workload: deployment, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '3_create-customers' }));
    await converge(h, f, isReady);
    const before = await query(f.databaseUrl, 'SELECT * FROM orders ORDER BY id');
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    const replicas = await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined, {
      workload: 'Deployment',
    });

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(await query(f.databaseUrl, 'SELECT * FROM orders ORDER BY id')).toEqual(before);
    expect(await query(f.databaseUrl, "SELECT 1 FROM pg_tables WHERE tablename = 'audit'")).toEqual([]);
    expect(replicas).toContain(0);
    const object = await h.kube.getSchemaMigration(f.ref);
    const stalledCondition = condition(object, 'Stalled');
    expect(stalledCondition?.reason).toBe('MigrationFailed');
    expect(stalledCondition?.message).toContain('4_broken.sql');
    expect(stalledCondition?.message).toContain('invalid input syntax for type integer');
    expect(object?.status?.phase).toBe('Failed');
    expect(object?.status?.history?.[0]).toMatchObject({ outcome: 'Failed', to: '4_broken' });
    await converge(h, f, () => true, { workload: 'Deployment' });
    await waitForReplicas(f.namespace, 3);

    // Not retried until the spec or the retry annotation changes.
    const jobs = await listBackupJobs(h, f);
    await converge(h, f, () => true);
    expect(await listBackupJobs(h, f)).toEqual(jobs);
    expect((await h.kube.getSchemaMigration(f.ref))?.status?.failure?.reason).toBe('MigrationFailed');
  });
});

async function waitForReplicas(namespace: string, replicas: number): Promise<void> {
  await waitFor(
    async () => {
      const state = await h.kube.getWorkload('Deployment', { namespace, name: 'orders-api' });
      return state?.currentReplicas === replicas && state.replicas === replicas;
    },
    { what: `the workload to reach ${replicas} replicas` },
  );
}

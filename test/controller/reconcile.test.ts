import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
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
  startHarness,
  type Harness,
} from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

const deployment = { kind: 'Deployment' as const, replicas: 3 };

describe('a SchemaMigration taken end to end', () => {
  it('migrates up on create: scales down, backs up, migrates, restores, reports Ready', async () => {
    const options = { files, workload: deployment, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    const replicas = await converge(h, f, isReady, { workload: 'Deployment' });

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
    expect(jobs).toHaveLength(1);
    const dumps = readdirSync(h.cluster.pvcDir(f.namespace, 'orders-backups'));
    expect(dumps).toEqual([object?.status?.lastBackup?.file]);
    expect(entry?.backupFile).toBe(object?.status?.lastBackup?.file);
    const listing = execFileSync(
      'pg_restore',
      ['--list', join(h.cluster.pvcDir(f.namespace, 'orders-backups'), dumps[0]!)],
      { encoding: 'utf8' },
    );
    expect(listing).toContain('TOC');
  });
});

import { describe, expect, it } from '@jest/globals';
import { query } from '../support/db.js';
import { deploymentWithBackup, files } from './fixtures.js';
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
  harnessForFile,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = deploymentWithBackup;

/** Nothing touched: the workload still at 3, no Job, no migrations table in the database. */
async function expectUntouched(f: Fixture): Promise<void> {
  const workload = await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
  expect(workload).toMatchObject({ replicas: 3, currentReplicas: 3 });
  expect(workload?.annotations).not.toHaveProperty(['schemaops.dev/original-replicas']);
  expect(await listBackupJobs(h, f)).toEqual([]);
  expect(await query(f.databaseUrl, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual(
    [],
  );
}

async function stalledWith(f: Fixture, reason: string): Promise<string> {
  await converge(h, f, (o) => isStalled(o) && condition(o, 'Stalled')?.reason === reason);
  const object = await h.kube.getSchemaMigration(f.ref);
  expect(object?.status?.phase).toBe('Stalled');
  expect(condition(object, 'Ready')?.status).toBe('False');
  expect(condition(object, 'Reconciling')?.status).toBe('False');
  return condition(object, 'Stalled')?.message ?? '';
}

describe('bad input is refused before any action', () => {
  it.each([
    [
      'an invalid spec that the CRD schema lets through',
      { timeouts: { scaleDown: '0s' } },
      'InvalidSpec',
      'spec.timeouts.scaleDown',
    ],
    [
      'a missing Secret',
      { database: { urlFrom: { secretKeyRef: { name: 'nope', key: 'url' } } } },
      'SecretNotFound',
      'nope',
    ],
    [
      'a missing Secret key',
      { database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'dsn' } } } },
      'SecretKeyNotFound',
      '"dsn"',
    ],
    [
      'a missing ConfigMap',
      { migrations: { configMaps: [{ name: 'gone' }] } },
      'ConfigMapNotFound',
      'ConfigMap',
    ],
    [
      'no ConfigMap matching the selector',
      { migrations: { selector: { matchLabels: { app: 'none' } } } },
      'NoMigrationsFound',
      'selector',
    ],
    ['a missing backup PVC', { backup: { pvc: 'no-pvc' } }, 'BackupPvcNotFound', 'no-pvc'],
    ['an unknown target', { targetRevision: '9_nothing' }, 'UnknownTarget', '9_nothing.sql'],
    ['a malformed target', { targetRevision: 'drop table orders' }, 'InvalidSpec', 'spec.targetRevision'],
  ])('%s', async (_what, overrides, reason, named) => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, overrides));
    expect(await stalledWith(f, reason)).toContain(named);
    await expectUntouched(f);
  });

  it('an invalid spec is refused by kube-apiserver (the CRD schema), naming the field, and nothing is touched', async () => {
    const f = await createFixture(h, options);
    const refused = await createMigration(
      h,
      f,
      migrationSpec(options, { workload: { kind: 'CronJob', name: 'orders-api' } }),
    ).catch((err: unknown) => err);
    expect(refused).toMatchObject({ code: 422 });
    expect(String((refused as { body?: unknown }).body)).toContain('spec.workload.kind');
    expect(await h.kube.getSchemaMigration(f.ref)).toBeUndefined();
    await expectUntouched(f);
  });

  it('a database that cannot be reached is retried, not stalled, and touches nothing', async () => {
    const f = await createFixture(h, options);
    const unreachable = 'postgres://app:Unreach4ble@127.0.0.1:1/none';
    await h.core.createNamespacedSecret({
      namespace: f.namespace,
      body: { metadata: { name: 'down-db' }, stringData: { url: unreachable } },
    });
    await createMigration(
      h,
      f,
      migrationSpec(options, { database: { urlFrom: { secretKeyRef: { name: 'down-db', key: 'url' } } } }),
    );
    let passes = 0;
    await converge(h, f, () => ++passes >= 3);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(isStalled(object)).toBe(false);
    expect(condition(object, 'Ready')).toMatchObject({ status: 'False', reason: 'DatabaseUnreachable' });
    expect(condition(object, 'Reconciling')?.status).toBe('True');
    expect(JSON.stringify(object)).not.toContain('Unreach4ble');
    await expectUntouched(f);
  });

  it('an irreversible step and a drifted file are refused naming the file', async () => {
    const irreversible: Record<string, string> = {
      ...files,
      '4_backfill.sql': '-- Up Migration\nUPDATE orders SET note = upper(note);\n',
    };
    const f = await createFixture(h, { ...options, files: irreversible });
    await createMigration(h, f, migrationSpec(options));
    await converge(h, f, isReady);
    await patchMigration(h, f, { spec: { targetRevision: '2_add-note' } });
    expect(await stalledWith(f, 'IrreversibleMigration')).toContain('4_backfill.sql');

    const drifted = {
      ...irreversible,
      '2_add-note.sql': irreversible['2_add-note.sql']!.replace("''", "'n/a'"),
    };
    await h.core.replaceNamespacedConfigMap({
      name: 'orders-migrations',
      namespace: f.namespace,
      body: { metadata: { name: 'orders-migrations' }, data: drifted },
    });
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    expect(await stalledWith(f, 'ChecksumDrift')).toContain('2_add-note.sql');
    expect(await listBackupJobs(h, f)).toHaveLength(2);
  });

  it('a plan that drops data needs policy.allowDataLoss; an empty table dropped is no loss', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await converge(h, f, isReady);
    await patchMigration(h, f, {
      spec: { targetRevision: '1_create-orders', policy: { allowDataLoss: false } },
    });
    const message = await stalledWith(f, 'DataLossNotAllowed');
    expect(message).toContain('2_add-note.sql:4: ALTER TABLE orders DROP COLUMN note (3 non-null values)');
    expect(message).not.toContain('customers');
    expect(await listBackupJobs(h, f)).toHaveLength(2);
  });

  it('suspend stops all action', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { suspend: true }));
    await converge(h, f, (o) => o?.status?.phase === 'Suspended');
    await expectUntouched(f);
  });
});

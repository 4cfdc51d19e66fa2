import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { silentObserver, type RunObserver } from '../../src/controller/context.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { validateSpec } from '../../src/api/v1alpha1/validate.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { buildBackupJob } from '../../src/specs/backup-job.js';
import { buildRestoreJob } from '../../src/specs/restore-job.js';
import { query, tableSnapshot } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  deployment,
  isReady,
  isStalled,
  listBackupJobs,
  migrationSpec,
  patchMigration,
  harnessForFile,
  runUntilStopped,
  stopsAt,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const RESTORE = 'schemaops.dev/restore';

/** Three migrations of a shop: the third adds a table with a foreign key into the first one's. */
const files: Record<string, string> = {
  '1_create-customers.sql': `-- Up Migration
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
-- Down Migration
DROP TABLE customers;
`,
  '2_add-email.sql': `-- Up Migration
ALTER TABLE customers ADD COLUMN email text;
-- Down Migration
ALTER TABLE customers DROP COLUMN email;
`,
  '3_create-orders.sql': `-- Up Migration
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), total int);
-- Down Migration
DROP TABLE orders;
`,
};

const fixture = { files, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };

const restored = (o: StoredSchemaMigration | undefined) => o?.status?.restore?.outcome === 'Restored';
const restoreEnded = (o: StoredSchemaMigration | undefined) =>
  o?.status?.restore?.outcome === 'Restored' || o?.status?.restore?.outcome === 'Failed';

function recordingObserver(): { observer: RunObserver; events: { type: string; reason: string }[] } {
  const events: { type: string; reason: string }[] = [];
  return {
    events,
    observer: { ...silentObserver, event: (_o, type, reason) => events.push({ type, reason }) },
  };
}

/** A shop at `2_add-email` with customers the app wrote, backed up by the run to `latest`, which then ran. */
async function migratedPastABackup(f: Fixture, spec: Record<string, unknown> = {}) {
  await createMigration(h, f, migrationSpec(fixture, { targetRevision: '2_add-email', ...spec }));
  await converge(h, f, isReady);
  await query(
    f.databaseUrl,
    `INSERT INTO customers (name, email) SELECT 'c' || g, 'c' || g || '@shop.test' FROM generate_series(1, 40) g`,
  );
  const atBackup = await tableSnapshot(f.databaseUrl);
  await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
  await converge(h, f, isReady);
  const object = await h.kube.getSchemaMigration(f.ref);
  // The whole database, dumped before the run's scale-down (the newest entry holds only the touched tables).
  const backup = object!.status!.backups!.find((b) => b.scope === 'Full')!;
  return { atBackup, backup };
}

async function appWrites(f: Fixture): Promise<void> {
  await query(
    f.databaseUrl,
    `INSERT INTO orders (customer_id, total) SELECT g, g * 10 FROM generate_series(1, 25) g`,
  );
  await query(f.databaseUrl, `UPDATE customers SET email = 'changed@shop.test' WHERE id <= 5`);
  await query(
    f.databaseUrl,
    `DELETE FROM customers WHERE id > 35 AND id NOT IN (SELECT customer_id FROM orders)`,
  );
  await query(f.databaseUrl, `INSERT INTO customers (name) VALUES ('late')`);
}

async function annotateRestore(f: Fixture, file: string | null): Promise<void> {
  await patchMigration(h, f, { metadata: { annotations: { [RESTORE]: file } } });
}

describe('restore from a backup: schemaops.dev/restore', () => {
  it('gives back every table and row of the backup after later migrations, the app back, then waits for a human', async () => {
    const f = await createFixture(h, fixture);
    const { atBackup, backup } = await migratedPastABackup(f);
    expect(backup).toMatchObject({ purpose: 'Run', revision: '2_add-email', verified: 'Read', tables: 3 });
    expect(backup.tableRows).toEqual(expect.arrayContaining([{ table: 'public.customers', rows: 40 }]));
    expect(existsSync(join(h.cluster.pvcDir(f.namespace, 'orders-backups'), backup.file))).toBe(true);
    await appWrites(f);
    expect(await tableSnapshot(f.databaseUrl)).not.toEqual(atBackup);

    const { observer, events } = recordingObserver();
    const ctx = { ...h.context(), observer };
    await annotateRestore(f, backup.file);
    const replicas = await converge(h, f, restored, { ctx, workload: 'Deployment', timeoutMs: 60_000 });
    expect(replicas).toContain(0);

    // Every table, column and row is the backup's: the migrations table and its archive included, orders gone.
    expect(await tableSnapshot(f.databaseUrl)).toEqual(atBackup);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-email');
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.currentRevision).toBe('2_add-email');
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, currentReplicas: 3, availableReplicas: 3 });
    expect(object?.status?.workload).toBeUndefined();
    // It waits for a human, and says what to do.
    expect(condition(object, 'Ready')).toMatchObject({ status: 'False', reason: 'RestoredFromBackup' });
    expect(condition(object, 'Stalled')).toMatchObject({ status: 'True', reason: 'RestoredFromBackup' });
    expect(condition(object, 'Stalled')?.message).toContain('set spec.targetRevision to 2_add-email');
    expect(object?.status?.phase).toBe('Restored');
    const safety = object?.status?.backups?.[0];
    expect(safety).toMatchObject({ purpose: 'Safety', revision: '3_create-orders' });
    expect(object?.status?.restore).toMatchObject({
      request: backup.file,
      file: backup.file,
      source: 'Annotation',
      outcome: 'Restored',
      revision: '2_add-email',
      safetyBackup: safety?.file,
    });
    expect(object?.status?.history?.[0]).toMatchObject({
      direction: 'Restore',
      outcome: 'Succeeded',
      from: '3_create-orders',
      to: '2_add-email',
      restoredFrom: backup.file,
      backupFile: safety?.file,
    });
    expect(events).toContainEqual({ type: 'Normal', reason: 'RestoredFromBackup' });

    // Nothing migrates by itself: reconciles leave it restored.
    const jobs = await listBackupJobs(h, f);
    for (let i = 0; i < 3; i++) await converge(h, f, () => true);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-email');
    expect(await listBackupJobs(h, f)).toEqual(jobs);
    expect(isStalled(await h.kube.getSchemaMigration(f.ref))).toBe(true);

    // Retrying migrates forward again, to spec.targetRevision.
    await patchMigration(h, f, { metadata: { annotations: { 'schemaops.dev/retry': 'after-restore' } } });
    await converge(h, f, isReady, { timeoutMs: 60_000 });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-orders');
  });

  it('holds the database at the backup once spec.targetRevision is set to it: Ready, nothing run', async () => {
    const f = await createFixture(h, fixture);
    const { backup } = await migratedPastABackup(f);
    await annotateRestore(f, backup.file);
    await converge(h, f, restored, { timeoutMs: 60_000 });
    await patchMigration(h, f, { spec: { targetRevision: '2_add-email' } });
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-email');
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.history?.[0]).toMatchObject({ direction: 'Restore' });
  });

  it('a corrupt dump fails the restore: the database unchanged, the safety backup kept, the app back', async () => {
    const f = await createFixture(h, fixture);
    const { backup } = await migratedPastABackup(f);
    await appWrites(f);
    const before = await tableSnapshot(f.databaseUrl);
    const path = join(h.cluster.pvcDir(f.namespace, 'orders-backups'), backup.file);
    truncateSync(path, statSync(path).size - 64);

    await annotateRestore(f, backup.file);
    await converge(h, f, restoreEnded, { timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.restore).toMatchObject({ outcome: 'Failed', file: backup.file });
    expect(condition(object, 'Stalled')).toMatchObject({ status: 'True', reason: 'RestoreFailed' });
    expect(condition(object, 'Stalled')?.message).toContain('the database is as it was');
    expect(await tableSnapshot(f.databaseUrl)).toEqual(before);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-orders');
    const safety = object?.status?.backups?.[0];
    expect(safety).toMatchObject({ purpose: 'Safety', revision: '3_create-orders' });
    const pvc = h.cluster.pvcDir(f.namespace, 'orders-backups');
    expect(readFileSync(join(pvc, `${safety!.file}.counts`), 'utf8')).toContain('public.orders');
    await expectAvailable(f);
    // The refusal shows while the annotation stays; removing it lets the resource be Ready again.
    await annotateRestore(f, null);
    await converge(h, f, isReady);
  });

  it('refuses an unknown file, touching nothing', async () => {
    const f = await createFixture(h, fixture);
    await migratedPastABackup(f);
    const before = await tableSnapshot(f.databaseUrl);
    const jobs = await listBackupJobs(h, f);
    await annotateRestore(f, 'orders-20200101T000000Z.dump');
    await converge(h, f, isStalled);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')).toMatchObject({ reason: 'UnknownBackup' });
    expect(condition(object, 'Stalled')?.message).toContain(
      'orders-20200101T000000Z.dump is not a completed, verified backup',
    );
    expect(await listBackupJobs(h, f)).toEqual(jobs);
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, currentReplicas: 3 });
    expect(await tableSnapshot(f.databaseUrl)).toEqual(before);
    await annotateRestore(f, null);
    await converge(h, f, isReady);
  });

  it('refuses a request made while a run is under way; the run goes on', async () => {
    const f = await createFixture(h, fixture);
    await createMigration(h, f, migrationSpec(fixture, { targetRevision: '2_add-email' }));
    await converge(h, f, isReady);
    const first = (await h.kube.getSchemaMigration(f.ref))!.status!.backups!.find((b) => b.scope === 'Full')!;
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    await converge(h, f, (o) => o?.status?.plan?.startedAt !== undefined);
    await annotateRestore(f, first.file);
    await converge(h, f, (o) => o?.status?.restore?.outcome === 'Refused');
    await converge(
      h,
      f,
      (o) => o?.status?.plan === undefined && o?.status?.history?.[0]?.to === '3_create-orders',
      {
        timeoutMs: 60_000,
      },
    );
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-orders');
    const object = await converge(h, f, isStalled).then(() => h.kube.getSchemaMigration(f.ref));
    expect(condition(object, 'Stalled')).toMatchObject({ reason: 'RestoreRefused' });
    expect(condition(object, 'Stalled')?.message).toContain('a run was under way');
    expect(object?.status?.history?.every((entry) => entry.direction !== 'Restore')).toBe(true);
    await annotateRestore(f, null);
    await converge(h, f, isReady);
  });
});

/** The app back: its recorded replicas, all available. */
async function expectAvailable(f: Fixture): Promise<void> {
  await waitFor(async () => (await deployment(h, f))?.availableReplicas === 3, { what: 'the app back' });
  expect(await deployment(h, f)).toMatchObject({ replicas: 3, currentReplicas: 3 });
}

describe('policy.onFailure: RestoreBackup', () => {
  const halfApplied: Record<string, string> = {
    '1_create-orders.sql': `-- Up Migration
CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);
INSERT INTO orders (total) SELECT g FROM generate_series(1, 30) g;
-- Down Migration
DROP TABLE orders;
`,
    '2_backfill.sql': `-- schemaops: no-transaction
-- Up Migration
ALTER TABLE orders ADD COLUMN cents int;
UPDATE orders SET cents = total * 100;
DELETE FROM orders WHERE id > 20;
SELECT 1 / 0;
-- Down Migration
ALTER TABLE orders DROP COLUMN cents;
`,
  };

  it('restores the run’s backup after a half-applied non-transactional migration: the starting revision and rows', async () => {
    const options = { files: halfApplied, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '1_create-orders' }));
    await converge(h, f, isReady);
    const atStart = await tableSnapshot(f.databaseUrl);
    await patchMigration(h, f, {
      spec: { targetRevision: 'latest', policy: { onFailure: 'RestoreBackup', allowDataLoss: true } },
    });
    await converge(h, f, restoreEnded, { timeoutMs: 60_000 });

    expect(await tableSnapshot(f.databaseUrl)).toEqual(atStart);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.restore).toMatchObject({
      source: 'OnFailure',
      outcome: 'Restored',
      revision: '1_create-orders',
    });
    expect(object?.status?.history?.slice(0, 2)).toMatchObject([
      { direction: 'Restore', outcome: 'Succeeded', to: '1_create-orders' },
      { direction: 'Up', outcome: 'Failed', from: '1_create-orders', to: '2_backfill' },
    ]);
    expect(condition(object, 'Stalled')).toMatchObject({ status: 'True', reason: 'RestoredFromBackup' });
    await expectAvailable(f);
    expect(object?.status?.workload).toBeUndefined();
  });

  it('restores only the touched tables, as at the scale-down; rows written elsewhere after the full dump stay', async () => {
    const twoPart: Record<string, string> = {
      '1_create-orders.sql': `-- Up Migration
CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);
INSERT INTO orders (total) SELECT g FROM generate_series(1, 30) g;
CREATE TABLE audit (id serial PRIMARY KEY, note text);
-- Down Migration
DROP TABLE audit;
DROP TABLE orders;
`,
      '2_backfill.sql': halfApplied['2_backfill.sql']!,
    };
    const options = { files: twoPart, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '1_create-orders' }));
    await converge(h, f, isReady);
    await patchMigration(h, f, {
      spec: { targetRevision: 'latest', policy: { onFailure: 'RestoreBackup', allowDataLoss: true } },
    });
    // The whole database is dumped; the app still writes until the scale-down.
    await runUntilStopped(
      h,
      f,
      stopsAt(h.context().kube, 'scaleWorkload', (_kind, _ref, n) => n === 0),
    );
    await query(f.databaseUrl, "INSERT INTO audit (note) VALUES ('written after the full dump')");
    await query(f.databaseUrl, 'INSERT INTO orders (total) VALUES (31)');
    const atScaleDown = await tableSnapshot(f.databaseUrl);

    await converge(h, f, restoreEnded, { timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.restore).toMatchObject({ source: 'OnFailure', outcome: 'Restored' });
    const [tables, whole] = object!.status!.backups!.filter((b) => b.purpose === 'Run');
    expect(whole).toMatchObject({ scope: 'Full', pointInTime: 'BeforeScaleDown' });
    expect(whole?.tableRows).toEqual(expect.arrayContaining([{ table: 'public.orders', rows: 30 }]));
    expect(tables).toMatchObject({ scope: 'Tables', pointInTime: 'WhileDown' });
    // orders, and the migrations table and its archive, which the engine writes: not audit.
    expect(tables?.tableRows?.map((t) => t.table).sort()).toEqual([
      'public.orders',
      'public.pgmigrations',
      'public.pgmigrations_archive',
    ]);
    expect(tables?.tableRows).toContainEqual({ table: 'public.orders', rows: 31 });
    expect(object?.status?.restore?.file).toBe(tables!.file);
    // Every table exactly as at the scale-down: the touched one restored, the other one never replaced.
    expect(await tableSnapshot(f.databaseUrl)).toEqual(atScaleDown);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    await expectAvailable(f);
  });

  it('after a failure that left the database at its start, it brings the workload back without restoring', async () => {
    const failing: Record<string, string> = {
      '1_create-orders.sql': halfApplied['1_create-orders.sql']!,
      '2_broken.sql': `-- Up Migration
ALTER TABLE orders ADD COLUMN cents int;
SELECT 1 / 0;
-- Down Migration
ALTER TABLE orders DROP COLUMN cents;
`,
    };
    const options = { files: failing, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '1_create-orders' }));
    await converge(h, f, isReady);
    const atStart = await tableSnapshot(f.databaseUrl);
    await patchMigration(h, f, {
      spec: { targetRevision: 'latest', policy: { onFailure: 'RestoreBackup' } },
    });
    await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined, { timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')).toMatchObject({ reason: 'MigrationFailed' });
    expect(object?.status?.restore).toBeUndefined();
    expect((await listBackupJobs(h, f)).filter((name) => name.includes('-restore-'))).toEqual([]);
    expect(await tableSnapshot(f.databaseUrl)).toEqual(atStart);
    await expectAvailable(f);
  });
});

describe('backup.verify: Restore', () => {
  it('fails the run before any SQL when the new dump does not restore; the app comes back', async () => {
    const options = { files, workload: { kind: 'Deployment' as const, replicas: 3 }, pvc: true };
    const f = await createFixture(h, options);
    const spec = migrationSpec(options, { targetRevision: '1_create-customers' });
    await createMigration(h, f, spec);
    await converge(h, f, isReady);
    // An index on a function that reads another table by an unqualified name: it dumps, it does not restore.
    await query(
      f.databaseUrl,
      `CREATE TABLE tiers (id int PRIMARY KEY, rank int); INSERT INTO tiers VALUES (1, 1)`,
    );
    await query(
      f.databaseUrl,
      `CREATE FUNCTION tier_rank(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT rank FROM tiers WHERE id = $1'`,
    );
    await query(f.databaseUrl, `CREATE INDEX customers_rank ON customers (tier_rank(1))`);
    const before = await tableSnapshot(f.databaseUrl);
    const backup = spec.backup as Record<string, unknown>;
    await patchMigration(h, f, {
      spec: { targetRevision: 'latest', backup: { ...backup, verify: 'Restore' } },
    });
    await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined, { timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')).toMatchObject({ reason: 'BackupFailed' });
    expect(condition(object, 'Stalled')?.message).toContain('relation "tiers" does not exist');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-customers');
    expect(await tableSnapshot(f.databaseUrl)).toEqual(before);
    await expectAvailable(f);
  });
});

describe('backup settings for real clusters', () => {
  it('are accepted by the CRD, and the backup and restore Jobs built from them by kube-apiserver', async () => {
    const f = await createFixture(h, fixture);
    const backup = {
      pvc: 'orders-backups',
      verify: 'Restore',
      resources: { requests: { cpu: '250m', memory: 256 }, limits: { memory: '1Gi' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'batch', effect: 'NoSchedule' }],
      podAnnotations: { 'sidecar.istio.io/inject': 'false' },
      caBundle: { secretKeyRef: { name: 'db-tls', key: 'ca.crt' } },
    };
    await createMigration(h, f, migrationSpec(fixture, { backup, suspend: true }));
    const stored = await h.kube.getSchemaMigration(f.ref);
    expect((stored?.spec as { backup?: unknown } | undefined)?.backup).toMatchObject(backup);
    const spec = validateSpec(stored!.spec);
    if (!spec.ok) throw new Error(spec.errors.join('; '));
    const owner = { name: 'orders', namespace: f.namespace, uid: stored!.metadata.uid };
    const jobs = [
      buildBackupJob({
        migration: owner,
        planHash: `sha256:${'cd'.repeat(32)}`,
        backup: spec.spec.backup!,
        databaseSecret: { name: 'orders-db', key: 'url' },
        timeoutSeconds: 60,
        now: new Date(),
      }),
      buildRestoreJob({
        name: 'orders-restore-0000000000',
        migration: owner,
        backup: spec.spec.backup!,
        databaseSecret: { name: 'orders-db', key: 'url' },
        file: 'orders-20261121T120000Z.dump',
        countsSha256: 'ab'.repeat(32),
        timeoutSeconds: 60,
        lockTimeoutMs: 2000,
      }),
    ];
    for (const job of jobs) {
      const created = await h.batch.createNamespacedJob({ namespace: f.namespace, body: job, dryRun: 'All' });
      expect(created.spec?.template.spec?.containers[0]?.resources?.requests).toEqual({
        cpu: '250m',
        memory: '256',
      });
    }
    // The CRD refuses a CA bundle that names both a ConfigMap and a Secret.
    await expect(
      patchMigration(h, f, {
        spec: {
          backup: { ...backup, caBundle: { ...backup.caBundle, configMapKeyRef: { name: 'x', key: 'y' } } },
        },
      }),
    ).rejects.toThrow(/exactly one of configMapKeyRef or secretKeyRef/);
  });
});

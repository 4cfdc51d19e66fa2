import pg from 'pg';
import { describe, expect, it } from '@jest/globals';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { currentRevision, migrateToTarget } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { files } from './fixtures.js';
import {
  condition,
  converge,
  createDeployment,
  createFixture,
  createMigration,
  deployment,
  isReady,
  isStalled,
  listBackupJobs,
  migrationSpec,
  patchMigration,
  recordPodCounts,
  runUntilStopped,
  harnessForFile,
  stopsAt,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

// No backup: pg_dump would wait behind the same table lock.
const options = { files, workload: { kind: 'Deployment' as const, replicas: 3 } };
const MIGRATION_LOCK = '7241865325823964';

async function holder(f: Fixture): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: f.databaseUrl });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, pid: rows[0]!.pid };
}

/** At 1_create-orders, ready for a run to latest whose 2_add-note needs a lock on orders. */
async function atFirstRevision(spec: Record<string, unknown> = {}): Promise<Fixture> {
  const f = await createFixture(h, options);
  await createMigration(h, f, migrationSpec(options, { targetRevision: '1_create-orders', ...spec }));
  await converge(h, f, isReady);
  return f;
}

const reconciling = (f: Fixture) => h.kube.getSchemaMigration(f.ref).then((o) => condition(o, 'Reconciling'));

describe('the migrate step waits, visibly and for a bounded time', () => {
  it('a table lock the app holds is retried with backoff, status names its pid, and the run finishes once it is released', async () => {
    const f = await atFirstRevision({ timeouts: { lock: '200ms', migration: '60s' } });
    const app = await holder(f);
    try {
      await app.client.query('BEGIN');
      await app.client.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
      await converge(h, f, (o) => /attempt 2\b/.test(condition(o, 'Reconciling')?.message ?? ''));
      const waiting = await reconciling(f);
      expect(waiting).toMatchObject({ status: 'True', reason: 'WaitingForLock' });
      expect(waiting?.message).toContain(`pid ${app.pid}`);
      expect(await deployment(h, f)).toMatchObject({ replicas: 0 });
      expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    } finally {
      await app.client.end();
    }
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, availableReplicas: 3 });
    expect(await query(f.databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
  });

  it('a lock held past timeouts.migration fails the run and onFailure restores the workload', async () => {
    const f = await atFirstRevision({ timeouts: { lock: '200ms', migration: '3s' } });
    const app = await holder(f);
    try {
      await app.client.query('BEGIN');
      await app.client.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
      await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined);
    } finally {
      await app.client.end();
    }
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.phase).toBe('Failed');
    expect(condition(object, 'Stalled')?.reason).toBe('MigrationTimedOut');
    expect(condition(object, 'Stalled')?.message).toMatch(/gave up after \d+ attempt\(s\) in 3s/);
    expect(condition(object, 'Ready')?.status).toBe('False');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    expect((await deployment(h, f))?.replicas).toBe(3);
  });

  it('the migration lock held by another session: status says which pid holds it', async () => {
    const f = await atFirstRevision({ timeouts: { lock: '200ms', migration: '60s' } });
    const other = await holder(f);
    try {
      await other.client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
      await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
      await converge(h, f, (o) => condition(o, 'Reconciling')?.reason === 'WaitingForLock');
      expect((await reconciling(f))?.message).toContain(`the migration lock is held by pid ${other.pid}`);
    } finally {
      await other.client.end();
    }
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });

  it("a lock holder that commits this run's target while the run waits on the lock ends the run as migrated", async () => {
    const f = await atFirstRevision({ timeouts: { lock: '20s', migration: '60s' } });
    const other = await holder(f);
    const waiting = async () => {
      const rows = await query<{ n: number }>(
        f.databaseUrl,
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
      );
      return rows[0]?.n ?? 0;
    };
    await other.client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK]);
    // First in the lock's queue: another run of the same files to latest (a leader that lost its lease, say).
    const first = migrateToTarget(
      { databaseUrl: f.databaseUrl, waitForLock: true, lockTimeoutMs: 20_000 },
      files,
      {
        kind: 'latest',
      },
    );
    await waitFor(async () => (await waiting()) === 1, { what: 'the first run to wait for the lock' });
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    const run = converge(h, f, isReady);
    await waitFor(async () => (await waiting()) === 2, { what: 'the operator to wait for the lock' });
    await other.client.end();
    await first;
    await run;
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.history?.[0]).toMatchObject({ to: '3_create-customers', outcome: 'Succeeded' });
    expect(condition(object, 'Migrated')?.status).toBe('True');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });

  it('a database lost mid-run is retried until timeouts.migration, counted from the migrate step, then the run fails', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { timeouts: { migration: '3s' } }));
    // Stop once the workload is recorded, before it is scaled: the run is under way.
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'scaleWorkload'));
    await h.core.replaceNamespacedSecret({
      namespace: f.namespace,
      name: 'orders-db',
      body: {
        metadata: { name: 'orders-db' },
        stringData: { url: 'postgres://app:Unreach4ble@127.0.0.1:1/none' },
      },
    });
    let sawAttempt = false;
    await converge(h, f, (o) => {
      const message = condition(o, 'Reconciling')?.message ?? '';
      if (condition(o, 'Reconciling')?.reason === 'DatabaseUnreachable' && /attempt \d+/.test(message))
        sawAttempt = true;
      return isStalled(o) && o?.status?.plan === undefined;
    });
    expect(sawAttempt).toBe(true);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')?.reason).toBe('MigrationTimedOut');
    expect(JSON.stringify(object)).not.toContain('Unreach4ble');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
    expect(await deployment(h, f)).toMatchObject({ replicas: 3 });
  });
});

describe('one owner per database', () => {
  it('a second SchemaMigration for the same database and table is Stalled DatabaseClaimed, naming the first, and touches nothing', async () => {
    const withBackup = { ...options, pvc: true };
    const f = await createFixture(h, withBackup);
    await createMigration(h, f, migrationSpec(withBackup, { targetRevision: '2_add-note' }));
    await converge(h, f, isReady);
    // The same database, written differently.
    const url = f.databaseUrl.replace(/^postgres:/, 'postgresql:').replace('127.0.0.1', '127.0.0.1');
    await h.core.createNamespacedSecret({
      namespace: f.namespace,
      body: { metadata: { name: 'orders-db-2' }, stringData: { url } },
    });
    const second = { ...f, ref: { namespace: f.namespace, name: 'orders-again' } };
    await h.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: f.namespace,
      plural: PLURAL,
      body: {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: second.ref.name },
        spec: migrationSpec(withBackup, {
          database: { urlFrom: { secretKeyRef: { name: 'orders-db-2', key: 'url' } } },
        }),
      },
    });
    await converge(h, second, (o) => isStalled(o) && condition(o, 'Stalled')?.reason === 'DatabaseClaimed');
    const message = condition(await h.kube.getSchemaMigration(second.ref), 'Stalled')?.message;
    expect(message).toContain(`SchemaMigration ${f.namespace}/orders`);
    expect(message).toContain('public.pgmigrations');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-note');
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, currentReplicas: 3 });
    expect(await listBackupJobs(h, f)).toHaveLength(2);
    // The first still owns it and still acts.
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    await converge(h, f, (o) => isReady(o) && o?.status?.currentRevision === '3_create-customers');
  });
});

describe('first install under GitOps', () => {
  it('runs from an empty database while the workload does not exist yet, and says so', async () => {
    const f = await createFixture(h, { files });
    await createMigration(h, f, migrationSpec(options));
    await converge(h, f, isReady);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'WorkloadScaledDown')).toMatchObject({
      status: 'False',
      reason: 'WorkloadNotCreatedYet',
    });
    expect(condition(object, 'WorkloadScaledDown')?.message).toContain(
      'orders-api (spec.workload) does not exist yet',
    );
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    // The workload the next sync wave creates is left alone.
    await createDeployment(h, f, { name: 'orders-api', replicas: 2 });
    await converge(h, f, isReady);
    expect(await deployment(h, f)).toMatchObject({ replicas: 2 });
  });

  it('on a database in use, waits for the workload (not Stalled) and goes on when it appears, without the retry annotation', async () => {
    const f = await createFixture(h, { files });
    const online = migrationSpec({ files }, { targetRevision: '1_create-orders' });
    await createMigration(h, f, online);
    await converge(h, f, isReady);
    await patchMigration(h, f, {
      spec: { targetRevision: 'latest', workload: { kind: 'Deployment', name: 'orders-api' } },
    });
    await converge(h, f, (o) => condition(o, 'Reconciling')?.reason === 'WaitingForWorkload');
    let object = await h.kube.getSchemaMigration(f.ref);
    expect(isStalled(object)).toBe(false);
    expect(condition(object, 'Ready')?.status).toBe('False');
    expect(condition(object, 'Reconciling')?.message).toContain('orders-api');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');

    await createDeployment(h, f, { name: 'orders-api', replicas: 2 });
    const pods = await recordPodCounts(h, f);
    await converge(h, f, isReady);
    pods.stop();
    // No backup: the pods may be gone and back between two passes, so the pod events tell.
    expect(pods.counts()).toContain(0);
    object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.metadata.annotations ?? {}).not.toHaveProperty(['schemaops.dev/retry']);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(await deployment(h, f)).toMatchObject({ replicas: 2, availableReplicas: 2 });
  });
});

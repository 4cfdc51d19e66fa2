import { describe, expect, it } from '@jest/globals';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { failingFourth, files } from './fixtures.js';
import {
  condition,
  converge,
  createDeployment,
  createFixture,
  createMigration,
  deleteMigration,
  deployment,
  isReady,
  isStalled,
  migrationSpec,
  patchMigration,
  runUntilStopped,
  harnessForFile,
  stopsAt,
  whileDownBackup,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = { files, workload: { kind: 'Deployment' as const, replicas: 3 } };
const ANNOTATION = 'schemaops.dev/original-replicas';

describe('the workload a run scaled is the one it restores', () => {
  it('changing spec.workload mid-run restores the recorded workload; the new one is the next run’s', async () => {
    const f = await createFixture(h, { ...options, pvc: true });
    await createDeployment(h, f, { name: 'orders-api-v2', replicas: 2 });
    await createMigration(h, f, migrationSpec({ ...options, pvc: true }));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'createJob', whileDownBackup));
    expect((await h.kube.getSchemaMigration(f.ref))?.status?.workload).toMatchObject({
      kind: 'Deployment',
      name: 'orders-api',
      originalReplicas: 3,
    });
    await patchMigration(h, f, { spec: { workload: { kind: 'Deployment', name: 'orders-api-v2' } } });

    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    const old = await deployment(h, f);
    expect(old).toMatchObject({ replicas: 3, currentReplicas: 3, availableReplicas: 3 });
    expect(old?.annotations).not.toHaveProperty([ANNOTATION]);
    const v2 = await deployment(h, f, 'orders-api-v2');
    expect(v2).toMatchObject({ replicas: 2, currentReplicas: 2 });
    expect(v2?.annotations).not.toHaveProperty([ANNOTATION]);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.workload).toBeUndefined();
    expect(object?.metadata.finalizers ?? []).toEqual([]);
  });

  it('deleting the object after an invalid edit still restores the recorded workload', async () => {
    const f = await createFixture(h, { ...options, pvc: true });
    await createMigration(h, f, migrationSpec({ ...options, pvc: true }));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'createJob', whileDownBackup));
    expect(await deployment(h, f)).toMatchObject({ replicas: 0 });
    // Accepted by the CRD schema, refused by the operator: the spec no longer validates.
    await patchMigration(h, f, { spec: { timeouts: { scaleDown: '0s' } } });
    await deleteMigration(h, f);
    await converge(h, f, (o) => o === undefined);
    await waitFor(async () => (await deployment(h, f))?.availableReplicas === 3, { what: 'replicas back' });
    expect((await deployment(h, f))?.annotations).not.toHaveProperty([ANNOTATION]);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
  });
});

describe('scale-up is done when the recorded replicas are available', () => {
  it('reports timeouts.scaleUp running out, never Ready while the app is not serving, then Ready once it is', async () => {
    const f = await createFixture(h, { files });
    // Pods that never count as available until minReadySeconds is lowered.
    await createDeployment(h, f, {
      name: 'orders-api',
      replicas: 2,
      spec: {
        minReadySeconds: 3600,
        progressDeadlineSeconds: 7200,
      },
    });
    await createMigration(h, f, migrationSpec(options, { timeouts: { scaleUp: '1s' } }));
    let readyWhileDown = false;
    await converge(h, f, (o) => {
      if (condition(o, 'Ready')?.status === 'True') readyWhileDown = true;
      return isStalled(o) && condition(o, 'Stalled')?.reason === 'ScaleUpTimedOut';
    });
    expect(readyWhileDown).toBe(false);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Stalled')?.message).toContain('0/2 replicas available after 1s');
    expect(condition(object, 'Migrated')?.status).toBe('True');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');

    await h.apps.patchNamespacedDeployment({
      namespace: f.namespace,
      name: 'orders-api',
      body: [{ op: 'replace', path: '/spec/minReadySeconds', value: 0 }],
    });
    await converge(h, f, isReady);
    expect(await deployment(h, f)).toMatchObject({ replicas: 2, availableReplicas: 2 });
    expect(condition(await h.kube.getSchemaMigration(f.ref), 'Stalled')?.status).toBe('False');
  });
});

describe('Ready and observedGeneration follow kstatus', () => {
  it('observedGeneration stays at the run’s generation until that run ends, then the new one runs', async () => {
    const f = await createFixture(h, { ...options, pvc: true });
    await createMigration(h, f, migrationSpec({ ...options, pvc: true }));
    await runUntilStopped(h, f, stopsAt(h.context().kube, 'createJob', whileDownBackup));
    await patchMigration(h, f, { spec: { targetRevision: '2_add-note' } });
    const seen: {
      observed: number;
      planTo: string | undefined;
      current: string | undefined;
      ready: string;
    }[] = [];
    await converge(
      h,
      f,
      (o) => {
        if (o?.status)
          seen.push({
            observed: o.status.observedGeneration ?? 0,
            planTo: o.status.plan?.startedAt ? o.status.plan.to : undefined,
            current: o.status.currentRevision,
            ready: condition(o, 'Ready')?.status ?? '',
          });
        return isReady(o) && o?.status?.currentRevision === '2_add-note';
      },
      { timeoutMs: 45_000 },
    );
    // While the first run (generation 1, to latest) is under way, nothing claims generation 2 is observed.
    const firstRun = seen.filter((x) => x.planTo === '3_create-customers');
    expect(firstRun.length).toBeGreaterThan(0);
    expect(firstRun.map((x) => x.observed)).toEqual(firstRun.map(() => 1));
    // Ready=True shown for generation 2 only once the database is at generation 2's target.
    const readyForTwo = seen.filter((x) => x.ready === 'True' && x.observed === 2);
    expect(readyForTwo.map((x) => x.current)).toEqual(readyForTwo.map(() => '2_add-note'));
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-note');
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, availableReplicas: 3 });
  });

  it('a stop between the final status write and the finalizer removal leaves no finalizer behind', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(
      h,
      f,
      stopsAt(
        h.context().kube,
        'setSchemaMigrationFinalizers',
        (_ref, finalizers) => finalizers.length === 0,
      ),
    );
    expect(condition(await h.kube.getSchemaMigration(f.ref), 'Ready')?.status).toBe('True');
    await converge(h, f, (o) => isReady(o) && (o?.metadata.finalizers ?? []).length === 0, {
      timeoutMs: 10_000,
    });
    expect(await deployment(h, f)).toMatchObject({ replicas: 3, availableReplicas: 3 });
  });

  it('a status write lost after the commit never leaves Ready=True beside Migrated=False', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await runUntilStopped(
      h,
      f,
      stopsAt(
        h.context().kube,
        'patchSchemaMigrationStatus',
        (_ref, status) => 'currentRevision' in status && status.currentRevision === '3_create-customers',
      ),
    );
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    await converge(h, f, isReady);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(condition(object, 'Migrated')?.status).toBe('True');
    expect(condition(object, 'WorkloadScaledDown')?.status).toBe('False');
    expect(await query(f.databaseUrl, 'SELECT name FROM pgmigrations')).toHaveLength(3);
  });

  it('after a KeepWorkloadDown failure, the target set to the current revision brings the app back before Ready', async () => {
    const broken = { ...options, files: failingFourth };
    const f = await createFixture(h, broken);
    await createMigration(
      h,
      f,
      migrationSpec(broken, { policy: { onFailure: 'KeepWorkloadDown', allowDataLoss: true } }),
    );
    await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined);
    expect(await deployment(h, f)).toMatchObject({ replicas: 0 });
    // The plan ran in one transaction: the database is still where it started.
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');

    await patchMigration(h, f, { spec: { targetRevision: 'base' } });
    await converge(h, f, isReady);
    // Read the moment Ready is seen: the app serves again.
    const back = await deployment(h, f);
    expect(back).toMatchObject({ replicas: 3, availableReplicas: 3 });
    expect(back?.annotations).not.toHaveProperty([ANNOTATION]);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.workload).toBeUndefined();
    expect(object?.metadata.finalizers ?? []).toEqual([]);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
    expect(
      await query(
        f.databaseUrl,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = 'orders'",
      ),
    ).toEqual([]);
  });
});

describe('every message written to status is bounded', () => {
  it('a failure message over 32 KiB is cut, status writes go on, and the workload comes back', async () => {
    const huge = {
      ...files,
      '4_shout.sql': `-- Up Migration\nCREATE TABLE audit (id int);\nDO $$ BEGIN RAISE EXCEPTION '%', repeat('x', 40000); END $$;\n-- Down Migration\nDROP TABLE audit;\n`,
    };
    const fixture = { ...options, files: huge };
    const f = await createFixture(h, fixture);
    await createMigration(h, f, migrationSpec(fixture));
    await converge(h, f, (o) => isStalled(o) && o?.status?.plan === undefined);
    const object = await h.kube.getSchemaMigration(f.ref);
    const stalledCondition = condition(object, 'Stalled');
    expect(stalledCondition?.reason).toBe('MigrationFailed');
    expect(stalledCondition?.message).toContain('4_shout.sql');
    expect(stalledCondition?.message).toMatch(/more characters cut\)$/);
    expect(stalledCondition?.message.length).toBeLessThanOrEqual(4096);
    expect(object?.status?.phase).toBe('Failed');
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('base');
    await waitFor(async () => (await deployment(h, f))?.availableReplicas === 3, { what: 'replicas back' });
  });
});

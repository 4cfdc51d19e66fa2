import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { pino } from 'pino';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../../src/api/v1alpha1/keys.js';
import { RUN_COMMAND_ANNOTATION } from '../../src/localcluster/kubelet/pods.js';
import { watchSchemaMigrations } from '../../src/kube/watch.js';
import type { KubeClient, ObjectRef } from '../../src/kube/types.js';
import { files } from './fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  harnessForFile,
  isReady,
  mergePatch,
  migrationSpec,
  type Fixture,
  type Harness,
} from './harness.js';
import { waitFor } from '../support/wait.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = { files, workload: { kind: 'Deployment' as const, replicas: 2 } };

/** Database sessions this process opens, per database name: the engine's connections are pg.Client's. */
const sessions = new Map<string, number>();
type Connect = (this: pg.Client, ...args: unknown[]) => unknown;
const connect = Object.getOwnPropertyDescriptor(pg.Client.prototype, 'connect')?.value as Connect;
Object.defineProperty(pg.Client.prototype, 'connect', {
  configurable: true,
  writable: true,
  value: function (this: pg.Client, ...args: unknown[]) {
    const name = this.database ?? '';
    sessions.set(name, (sessions.get(name) ?? 0) + 1);
    return connect.apply(this, args);
  },
});
const databaseOf = (url: string) => new URL(url).pathname.slice(1);

interface Write {
  reason: string | undefined;
  scaleDownAt: boolean;
  workloadReadyAt: boolean;
  sessions: number;
}

/** The operator's client, recording each status write: the Ready reason it left and the sessions opened so far. */
function countingWrites(kube: KubeClient, database: string, writes: Write[]): KubeClient {
  return {
    ...kube,
    patchSchemaMigrationStatus: async (...args: Parameters<KubeClient['patchSchemaMigrationStatus']>) => {
      const updated = await kube.patchSchemaMigrationStatus(...args);
      writes.push({
        reason: condition(updated, 'Ready')?.reason,
        scaleDownAt: updated.status?.plan?.scaleDownAt !== undefined,
        workloadReadyAt: updated.status?.plan?.workloadReadyAt !== undefined,
        sessions: sessions.get(database) ?? 0,
      });
      return updated;
    },
  };
}

/** Runs the SchemaMigration to Ready; the status writes from the one asking for the scale-down to the one seeing the app back. */
async function windowOf(f: Fixture, spec: Record<string, unknown>): Promise<Write[]> {
  await createMigration(h, f, spec);
  const writes: Write[] = [];
  const ctx = h.context(countingWrites(h.kube, databaseOf(f.databaseUrl), writes));
  await converge(h, f, isReady, { ctx, timeoutMs: 60_000 });
  const from = writes.findIndex((w) => w.scaleDownAt);
  const to = writes.findIndex((w) => w.workloadReadyAt);
  expect(from).toBeGreaterThanOrEqual(0);
  return writes.slice(from, to + 1);
}

describe('the downtime window', () => {
  it('takes one status write per step (the restore starts with Migrated) and one database session between scale-down and back up', async () => {
    const f = await createFixture(h, options);
    const window = await windowOf(f, migrationSpec(options));
    // The pods gone (WorkloadScaledDown=True) go in the migrate step's first write.
    expect(window.map((w) => w.reason)).toEqual([
      'ScalingDown',
      'Migrating',
      'RestoringWorkload',
      'WorkloadRestored',
    ]);
    // The migrate step's one session: no look at the revision before it, none after.
    expect(window[window.length - 1]!.sessions - window[0]!.sessions).toBe(1);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.currentRevision).toBe('3_create-customers');
    const deployment = await h.apps.readNamespacedDeployment({ namespace: f.namespace, name: 'orders-api' });
    expect(deployment.spec?.replicas).toBe(2);
  });

  it('with a backup: one write to start the tables backup, one to start the SQL, and no planning while down', async () => {
    const withBackup = { ...options, pvc: true };
    const f = await createFixture(h, withBackup);
    const window = await windowOf(f, migrationSpec(withBackup));
    // ScaledDown goes with the tables backup's start; the backup's record with the SQL's start.
    expect(window.map((w) => w.reason)).toEqual([
      'ScalingDown',
      'BackingUp',
      'Migrating',
      'RestoringWorkload',
      'WorkloadRestored',
    ]);
    // The touched tables were planned before the scale-down: the migrate step's session is the only one.
    expect(window[window.length - 1]!.sessions - window[0]!.sessions).toBe(1);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.backups?.map((b) => [b.scope, b.pointInTime])).toEqual([
      ['Tables', 'WhileDown'],
      ['Full', 'BeforeScaleDown'],
    ]);
    expect(condition(object, 'WorkloadScaledDown')?.reason).toBe('WorkloadRestored');
  });

  it('goes on when the backup pod exited 0, without waiting for the Job to be marked Complete', async () => {
    const withBackup = { ...options, pvc: true };
    const f = await createFixture(h, withBackup);
    await createMigration(h, f, migrationSpec(withBackup));
    // Jobs as if the Job controller had not marked them yet: only their pods say they are done.
    const unmarked: KubeClient = {
      ...h.kube,
      getJob: async (ref) => {
        const job = await h.kube.getJob(ref);
        if (!job?.status) return job;
        const conditions = job.status.conditions?.filter((c) => c.type !== 'Complete');
        return { ...job, status: { ...job.status, conditions } };
      },
    };
    await converge(h, f, isReady, { ctx: h.context(unmarked), timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.backups?.map((b) => b.scope)).toEqual(['Tables', 'Full']);
    expect(object?.status?.currentRevision).toBe('3_create-customers');
  });

  it('names two whole backups taken in the same second apart: neither is written over or lost', async () => {
    // A DO block: the tables the plan touches cannot be told, so the backup while down is a whole one too.
    const doBlock = {
      ...files,
      '4_backfill.sql': `-- Up Migration
DO $$ BEGIN UPDATE customers SET name = name; END $$;
-- Down Migration
`,
    };
    const withBackup = { ...options, files: doBlock, pvc: true };
    const f = await createFixture(h, withBackup);
    await createMigration(h, f, migrationSpec(withBackup));
    const second = new Date('2026-11-21T12:00:00.250Z');
    await converge(h, f, isReady, { ctx: { ...h.context(), now: () => second }, timeoutMs: 60_000 });
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.backups?.map((b) => [b.file, b.scope, b.pointInTime])).toEqual([
      ['orders-20261121T120001Z.dump', 'Full', 'WhileDown'],
      ['orders-20261121T120000Z.dump', 'Full', 'BeforeScaleDown'],
    ]);
    // History names the whole backup from before the scale-down, the one a restore by annotation may use.
    expect(object?.status?.history?.[0]?.backupFile).toBe('orders-20261121T120000Z.dump');
  });

  it("wakes the run holding a workload on its Deployment's and its pods' changes, and no other", async () => {
    const f = await createFixture(h, options);
    const suspended = migrationSpec(options, { suspend: true });
    await createMigration(h, f, suspended);
    await h.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: f.namespace,
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SchemaMigration',
        metadata: { name: 'other' },
        spec: suspended,
      },
    });
    // As a run records it before scaling down; the object is suspended, so nothing acts on it.
    await h.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: f.namespace,
        plural: PLURAL,
        name: 'orders',
        body: { status: { workload: { kind: 'Deployment', name: 'orders-api', originalReplicas: 2 } } },
      },
      mergePatch,
    );
    const woken: string[] = [];
    const watches = watchSchemaMigrations(
      h.operatorKc,
      {
        namespaces: [f.namespace],
        resyncPeriodMs: 3_600_000,
        idleTimeoutMs: 600_000,
        log: pino({ level: 'silent' }),
      },
      (ref: ObjectRef, cause) => {
        if (cause === 'event') woken.push(ref.name);
      },
    );
    try {
      await watches.synced;
      woken.length = 0;
      await h.apps.patchNamespacedDeploymentScale(
        { namespace: f.namespace, name: 'orders-api', body: { spec: { replicas: 0 } } },
        mergePatch,
      );
      const ref = { namespace: f.namespace, name: 'orders-api' };
      await waitFor(async () => (await h.kube.getWorkload('Deployment', ref))?.currentReplicas === 0, {
        what: 'the pods to go',
      });
      await waitFor(() => Promise.resolve(woken.length > 0), {
        what: 'the Deployment change to wake the run',
      });
      expect(new Set(woken)).toEqual(new Set(['orders']));
      // A pod of the namespace going away (no Deployment change) wakes it too: terminating pods hold a scale-down.
      await h.core.createNamespacedPod({
        namespace: f.namespace,
        body: { metadata: { name: 'a-pod' }, spec: { containers: [{ name: 'app', image: 'orders-api:1' }] } },
      });
      woken.length = 0;
      await h.core.deleteNamespacedPod({ namespace: f.namespace, name: 'a-pod', gracePeriodSeconds: 0 });
      await waitFor(() => Promise.resolve(woken.length > 0), { what: 'the pod going to wake the run' });
      expect(new Set(woken)).toEqual(new Set(['orders']));
      // The pod of one of its Jobs ending wakes it at once: the Job is marked Complete up to a second later.
      woken.length = 0;
      await h.core.createNamespacedPod({
        namespace: f.namespace,
        body: {
          metadata: {
            name: 'a-backup-pod',
            labels: { [Label.managedBy]: MANAGED_BY, [Label.migration]: 'other' },
            annotations: { [RUN_COMMAND_ANNOTATION]: 'true' },
          },
          spec: {
            restartPolicy: 'Never',
            containers: [{ name: 'backup', image: 'postgres:16', command: ['/bin/sh', '-c', 'true'] }],
          },
        },
      });
      await waitFor(() => Promise.resolve(woken.includes('other')), {
        what: "the Job's pod ending to wake its run",
      });
    } finally {
      await watches.stop();
    }
  });
});

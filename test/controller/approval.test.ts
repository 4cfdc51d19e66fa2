import { describe, expect, it } from '@jest/globals';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { deploymentWithBackup } from './fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  isReady,
  listBackupJobs,
  migrationSpec,
  patchMigration,
  harnessForFile,
  type Fixture,
  type Harness,
} from './harness.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';

let h: Harness;
harnessForFile((started) => (h = started));

const options = deploymentWithBackup;

const awaiting = (o: StoredSchemaMigration | undefined) =>
  o?.status?.phase === 'AwaitingApproval' && o.status.observedGeneration === o.metadata.generation;

/** Converges to AwaitingApproval and returns the proposed plan's hash. */
async function awaitingHash(f: Fixture): Promise<string> {
  await converge(h, f, awaiting);
  const object = await h.kube.getSchemaMigration(f.ref);
  expect(object?.status?.plan?.startedAt).toBeUndefined();
  expect(condition(object, 'Ready')).toMatchObject({ status: 'False', reason: 'AwaitingApproval' });
  expect(condition(object, 'Stalled')?.status).toBe('False');
  const hash = object?.status?.plan?.hash ?? '';
  expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(condition(object, 'Ready')?.message).toContain(`schemaops.dev/approve=${hash}`);
  return hash;
}

const approve = (f: Fixture, hash: string) =>
  patchMigration(h, f, { metadata: { annotations: { 'schemaops.dev/approve': hash } } });

/** Still waiting, after another pass, with nothing touched since. */
async function expectStillWaiting(f: Fixture, revision: string): Promise<void> {
  await converge(h, f, awaiting);
  expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe(revision);
  const workload = await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
  expect(workload).toMatchObject({ replicas: 3, currentReplicas: 3 });
}

describe('the approval gate', () => {
  it('Manual: every plan waits for the annotation with its hash, and only that hash starts it', async () => {
    const f = await createFixture(h, options);
    await createMigration(
      h,
      f,
      migrationSpec(options, { policy: { approval: 'Manual', allowDataLoss: true } }),
    );
    const first = await awaitingHash(f);
    await expectStillWaiting(f, 'base');
    expect(await listBackupJobs(h, f)).toEqual([]);

    // A changed target is a new plan: the hash of the old one approves nothing.
    await patchMigration(h, f, { spec: { targetRevision: '2_add-note' } });
    const second = await awaitingHash(f);
    expect(second).not.toBe(first);
    await approve(f, first);
    await expectStillWaiting(f, 'base');

    await approve(f, second);
    await converge(h, f, isReady, { workload: 'Deployment' });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-note');
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.plan).toBeUndefined();
    expect(object?.status?.history?.[0]).toMatchObject({ to: '2_add-note', outcome: 'Succeeded' });
    expect(await listBackupJobs(h, f)).toHaveLength(2);
  });

  it('Destructive: a plan that goes up runs at once, a rollback waits for approval', async () => {
    const f = await createFixture(h, options);
    const policy = { approval: 'Destructive', allowDataLoss: true };
    await createMigration(h, f, migrationSpec(options, { policy }));
    await converge(h, f, isReady, { workload: 'Deployment' });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');

    await patchMigration(h, f, { spec: { targetRevision: '1_create-orders' } });
    const hash = await awaitingHash(f);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.plan).toMatchObject({
      direction: 'Down',
      from: '3_create-customers',
      to: '1_create-orders',
      migrations: ['3_create-customers', '2_add-note'],
    });
    await expectStillWaiting(f, '3_create-customers');
    expect(await listBackupJobs(h, f)).toHaveLength(2);

    await approve(f, hash);
    await converge(h, f, isReady, { workload: 'Deployment' });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('1_create-orders');
    expect(await query(f.databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
  });

  it('a waiting plan goes away when the target is reached another way', async () => {
    const f = await createFixture(h, options);
    await createMigration(
      h,
      f,
      migrationSpec(options, { policy: { approval: 'Manual', allowDataLoss: true } }),
    );
    await awaitingHash(f);
    await patchMigration(h, f, { spec: { targetRevision: 'base' } });
    await converge(h, f, isReady);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.plan).toBeUndefined();
    expect(object?.status?.phase).toBe('Ready');
  });
});

describe('a plan an approver can review', () => {
  it('publishes the exact SQL under the plan hash, counts statements per kind in status, and names what it drops', async () => {
    const f = await createFixture(h, options);
    await createMigration(
      h,
      f,
      migrationSpec(options, { policy: { approval: 'Destructive', allowDataLoss: true } }),
    );
    await converge(h, f, isReady);
    await query(f.databaseUrl, 'INSERT INTO customers (name) VALUES ($1), ($2)', ['ada', 'grace']);
    await patchMigration(h, f, { spec: { targetRevision: '1_create-orders' } });
    const hash = await awaitingHash(f);

    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.plan?.summary).toEqual({
      statements: 2,
      kinds: [
        { kind: 'Drop', count: 1 },
        { kind: 'AlterTable', count: 1 },
      ],
      destructive: expect.arrayContaining([
        {
          at: '3_create-customers.sql:4',
          statement: expect.stringContaining('DROP TABLE customers'),
          rows: 2,
        },
      ]),
    });
    const configMap = await h.core.readNamespacedConfigMap({ namespace: f.namespace, name: 'orders-plan' });
    expect(configMap.data?.hash).toBe(hash);
    expect(configMap.data?.['plan.sql']).toContain('DROP TABLE customers;');
    expect(configMap.data?.['plan.sql']).toContain('ALTER TABLE orders DROP COLUMN note;');
    expect(configMap.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'SchemaMigration',
      name: 'orders',
    });

    await approve(f, hash);
    await converge(h, f, isReady);
    const done = await h.kube.getSchemaMigration(f.ref);
    expect(done?.status?.history?.[0]).toMatchObject({ direction: 'Down', planHash: hash });
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { files } from '../controller/fixtures.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  isReady,
  migrationSpec,
  startHarness,
  type Fixture,
  type Harness,
} from '../controller/harness.js';
import { plugin, startPlugin } from './support.js';

// The plugin beside the real reconciler: what it reads is what the operator writes (the plan's SQL in
// ConfigMap <name>-plan under the plan's hash), and what it writes is what the operator acts on.
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 180_000);
afterAll(async () => {
  await h?.stop();
});

const options = { files };
const current = (o: StoredSchemaMigration | undefined) =>
  o !== undefined && o.status?.observedGeneration === o.metadata.generation;
const awaiting = (o: StoredSchemaMigration | undefined) =>
  current(o) && o?.status?.phase === 'AwaitingApproval';
const refusedForDataLoss = (o: StoredSchemaMigration | undefined) =>
  current(o) && condition(o, 'Stalled')?.reason === 'DataLossNotAllowed';

/** The admin's kubeconfig with the fixture's namespace as the context's. */
function envFor(f: Fixture): NodeJS.ProcessEnv {
  const path = join(h.test.dir, `${f.namespace}.kubeconfig`);
  h.cluster.writeKubeconfig(path, { namespace: f.namespace });
  return { ...process.env, KUBECONFIG: path };
}

describe('kubectl schemaops with the operator', () => {
  it('shows the SQL the operator planned, approves its hash, waits for Ready, and rolls back through a data-loss refusal', async () => {
    const f = await createFixture(h, options);
    const env = envFor(f);
    const policy = { approval: 'Manual', allowDataLoss: false };
    await createMigration(h, f, migrationSpec(options, { policy }));
    await converge(h, f, awaiting);
    const hash = (await h.kube.getSchemaMigration(f.ref))?.status?.plan?.hash ?? '';
    expect(hash).toMatch(/^sha256:/);

    const sql = await plugin(['plan', 'orders', '--sql'], env);
    expect(sql.code).toBe(0);
    expect(sql.stdout).toContain(`-- plan ${hash}`);
    expect(sql.stdout).toContain('-- 1_create-orders.sql:2\nCREATE TABLE orders');
    expect(sql.stdout).toContain('CREATE TABLE customers');

    const approved = await plugin(['approve', 'orders', '--yes'], env);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(sql.stdout.trimEnd());
    const waiter = startPlugin(['wait', 'orders', '--timeout', '60s'], env);
    await converge(h, f, isReady);
    expect(await waiter.exited).toMatchObject({ code: 0, stdout: 'schemamigration/orders condition met\n' });
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    const history = await plugin(['history', 'orders'], env);
    expect(history.stdout.split('\n')[1]).toMatch(
      new RegExp(`^base +3_create-customers +Up +Succeeded .* ${hash.replace(/[:]/g, '\\$&')}$`),
    );

    // -1 from 3_create-customers is 2_add-note; its down drops a table with a row, which the policy refuses.
    await query(f.databaseUrl, "INSERT INTO customers (name) VALUES ('ada')");
    const rollback = startPlugin(['rollback', 'orders', '--to', '-1', '--yes', '--timeout', '60s'], env);
    await converge(h, f, refusedForDataLoss);
    await converge(h, f, (o) => awaiting(o) && o?.status?.plan?.to === '2_add-note');
    const done = await rollback.exited;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(
      'orders: spec.targetRevision set to 2_add-note (was latest; the database is at 3_create-customers)',
    );
    expect(done.stdout).toContain('the operator refused: the plan can lose data');
    expect(done.stdout).toContain('DROP TABLE customers');
    expect(done.stdout).toContain('orders: spec.policy.allowDataLoss set to true');
    expect(done.stdout).toContain('the rollback waits for approval: kubectl schemaops approve orders');

    expect((await plugin(['approve', 'orders', '--yes'], env)).code).toBe(0);
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_add-note');
  });
});

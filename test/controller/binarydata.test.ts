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
  harnessForFile,
  type Fixture,
  type FixtureOptions,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

/** A second ConfigMap, `orders-binary`, whose files are all in binaryData (as some tools write them). */
async function createBinaryConfigMap(f: Fixture, binaryFiles: Record<string, Buffer>): Promise<void> {
  const binaryData = Object.fromEntries(
    Object.entries(binaryFiles).map(([name, bytes]) => [name, bytes.toString('base64')]),
  );
  await h.core.createNamespacedConfigMap({
    namespace: f.namespace,
    body: { metadata: { name: 'orders-binary' }, binaryData },
  });
}

const bothConfigMaps = {
  migrations: { configMaps: [{ name: 'orders-migrations' }, { name: 'orders-binary' }] },
};

describe('migration files in ConfigMap binaryData', () => {
  it('migrates files kept in binaryData, read as UTF-8', async () => {
    const options: FixtureOptions = { files: { '1_create-orders.sql': files['1_create-orders.sql']! } };
    const f = await createFixture(h, options);
    await createBinaryConfigMap(f, {
      '2_add-note.sql': Buffer.from(
        "-- Up Migration\nALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT 'café';\n" +
          '-- Down Migration\nALTER TABLE orders DROP COLUMN note;\n',
        'utf8',
      ),
      '3_create-customers.sql': Buffer.from(files['3_create-customers.sql']!, 'utf8'),
    });
    await createMigration(h, f, migrationSpec(options, bothConfigMaps));

    await converge(h, f, isReady);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.currentRevision).toBe('3_create-customers');
    expect(await query(f.databaseUrl, 'SELECT name FROM pgmigrations ORDER BY id')).toEqual([
      { name: '1_create-orders' },
      { name: '2_add-note' },
      { name: '3_create-customers' },
    ]);
    expect(await query(f.databaseUrl, 'SELECT DISTINCT note FROM orders')).toEqual([{ note: 'café' }]);
  });

  it('refuses a binaryData file that is not UTF-8, naming the ConfigMap and the key: nothing scaled, no Job', async () => {
    const f = await createFixture(h, deploymentWithBackup);
    // "café" in Latin-1: the é is the single byte 0xE9, which UTF-8 does not allow there.
    const latin1 = Buffer.from("-- Up Migration\nCOMMENT ON TABLE orders IS 'caf\xe9';\n", 'latin1');
    await createBinaryConfigMap(f, { '4_comment.sql': latin1 });
    await createMigration(h, f, migrationSpec(deploymentWithBackup, bothConfigMaps));

    await converge(h, f, isStalled);
    const object = await h.kube.getSchemaMigration(f.ref);
    const stalled = condition(object, 'Stalled');
    expect(stalled?.reason).toBe('InvalidMigrationFile');
    expect(stalled?.message).toContain('4_comment.sql');
    expect(stalled?.message).toContain('ConfigMap orders-binary');
    expect(stalled?.message).toContain('not UTF-8');
    expect(condition(object, 'Ready')?.status).toBe('False');
    const workload = await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' });
    expect(workload).toMatchObject({ replicas: 3, currentReplicas: 3 });
    expect(workload?.annotations).not.toHaveProperty(['schemaops.dev/original-replicas']);
    expect(await listBackupJobs(h, f)).toEqual([]);
    expect(await query(f.databaseUrl, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual(
      [],
    );
  });
});

import { beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  currentRevision,
  migrateToTarget,
  migrationHistory,
  MIGRATION_LOCK_ID,
  planToTarget,
  stampTarget,
  type EngineOptions,
} from '../../src/migrations/engine.js';
import { rejection } from '../support/refusal.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { failingThird, ordersMigrations } from './fixtures.js';

const to = (target: string) => parseTarget(target, { allowRelative: true });

async function tables(url: string): Promise<string[]> {
  const rows = await query<{ tablename: string }>(
    url,
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
  );
  return rows.map((r) => r.tablename);
}

async function orders(url: string): Promise<unknown[]> {
  return query(url, 'SELECT * FROM orders ORDER BY id');
}

describe('the migration engine on a real PostgreSQL', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('engine') };
  });

  it('migrates up to latest, recording history and the archive', async () => {
    const result = await migrateToTarget(options, ordersMigrations, to('latest'));
    expect(result.revision).toBe('3_create-customers');
    expect(await currentRevision(options)).toBe('3_create-customers');
    expect((await migrationHistory(options)).map((h) => h.revision)).toEqual([
      '1_create-orders',
      '2_add-note',
      '3_create-customers',
    ]);
    expect(await tables(options.databaseUrl)).toEqual([
      'customers',
      'orders',
      'pgmigrations',
      'pgmigrations_archive',
    ]);
    const archive = await query(
      options.databaseUrl,
      'SELECT name, sha256 FROM pgmigrations_archive ORDER BY name',
    );
    expect(archive).toHaveLength(3);
  });

  it('rolls back to a revision and keeps the rows of the tables that stay', async () => {
    await migrateToTarget(options, ordersMigrations, to('latest'));
    await query(options.databaseUrl, "INSERT INTO orders (total, note) VALUES (10, 'a'), (20, 'b')");
    const result = await migrateToTarget(options, ordersMigrations, to('1_create-orders'));
    expect(result.plan.direction).toBe('down');
    expect(result.plan.migrations.map((m) => m.revision)).toEqual(['3_create-customers', '2_add-note']);
    expect(await currentRevision(options)).toBe('1_create-orders');
    expect(await orders(options.databaseUrl)).toEqual([
      { id: 1, total: 10 },
      { id: 2, total: 20 },
    ]);
    expect(await tables(options.databaseUrl)).not.toContain('customers');
  });

  it('goes to base and back with relative steps', async () => {
    await migrateToTarget(options, ordersMigrations, to('+1'));
    expect(await currentRevision(options)).toBe('1_create-orders');
    await migrateToTarget(options, ordersMigrations, to('+2'));
    expect(await currentRevision(options)).toBe('3_create-customers');
    await migrateToTarget(options, ordersMigrations, to('-2'));
    expect(await currentRevision(options)).toBe('1_create-orders');
    await migrateToTarget(options, ordersMigrations, to('base'));
    expect(await currentRevision(options)).toBe('base');
    expect(await tables(options.databaseUrl)).toEqual(['pgmigrations', 'pgmigrations_archive']);
  });

  it('changes nothing on a dry run or a plan', async () => {
    const plan = await planToTarget(options, ordersMigrations, to('latest'));
    expect(plan.migrations).toHaveLength(3);
    const dry = await migrateToTarget(options, ordersMigrations, to('latest'), { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, revision: 'base' });
    expect(await tables(options.databaseUrl)).toEqual([]);
  });

  it('leaves the database at the starting revision with its rows unchanged when the third migration fails', async () => {
    await migrateToTarget(options, ordersMigrations, to('1_create-orders'));
    await query(options.databaseUrl, 'INSERT INTO orders (total) VALUES (10), (20)');
    const before = await orders(options.databaseUrl);
    const err = await rejection(migrateToTarget(options, failingThird, to('latest')));
    expect(err).toMatchObject({
      code: 'MigrationFailed',
      file: '3_create-customers.sql',
      revision: '1_create-orders',
    });
    expect(err.message).toContain('invalid input syntax for type integer');
    expect(await currentRevision(options)).toBe('1_create-orders');
    expect(await orders(options.databaseUrl)).toEqual(before);
    const columns = await query<{ column_name: string }>(
      options.databaseUrl,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'total']);
    expect(await tables(options.databaseUrl)).not.toContain('customers');
    const archived = await query<{ name: string }>(
      options.databaseUrl,
      'SELECT name FROM pgmigrations_archive',
    );
    expect(archived.map((a) => a.name)).toEqual(['1_create-orders']);
  });

  it('refuses to roll back through an irreversible migration and runs no SQL', async () => {
    const files = {
      ...ordersMigrations,
      '4_backfill.sql': '-- Up Migration\nUPDATE orders SET note = upper(note);\n',
    };
    await migrateToTarget(options, files, to('latest'));
    const err = await rejection(migrateToTarget(options, files, to('2_add-note')));
    expect(err).toMatchObject({ code: 'IrreversibleMigration', file: '4_backfill.sql' });
    expect(await currentRevision(options)).toBe('4_backfill');
    expect(await tables(options.databaseUrl)).toContain('customers');
  });

  it('refuses a migration file that changed after it was applied', async () => {
    await migrateToTarget(options, ordersMigrations, to('2_add-note'));
    const edited = {
      ...ordersMigrations,
      '2_add-note.sql': ordersMigrations['2_add-note.sql']!.replace("''", "'n/a'"),
    };
    const err = await rejection(migrateToTarget(options, edited, to('latest')));
    expect(err).toMatchObject({ code: 'ChecksumDrift', file: '2_add-note.sql' });
    expect(await currentRevision(options)).toBe('2_add-note');
  });

  it('rolls back from the archive after the newer files were removed (a Git revert)', async () => {
    await migrateToTarget(options, ordersMigrations, to('latest'));
    const reverted = { '1_create-orders.sql': ordersMigrations['1_create-orders.sql']! };
    const result = await migrateToTarget(options, reverted, to('latest'));
    expect(result.plan.migrations).toEqual([]);
    const rollback = await migrateToTarget(options, reverted, to('1_create-orders'));
    expect(rollback.plan.migrations.map((m) => [m.revision, m.origin])).toEqual([
      ['3_create-customers', 'archive'],
      ['2_add-note', 'archive'],
    ]);
    expect(await currentRevision(options)).toBe('1_create-orders');
    expect(await tables(options.databaseUrl)).not.toContain('customers');
  });

  it('lets only one of two concurrent runs through: the other fails fast with the lock error', async () => {
    const slow = {
      '1_slow.sql':
        '-- Up Migration\nCREATE TABLE slow (id int);\nSELECT pg_sleep(1);\n-- Down Migration\nDROP TABLE slow;\n',
    };
    const first = migrateToTarget(options, slow, to('latest'));
    await waitFor(async () => {
      const locks = await query(
        options.databaseUrl,
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
      );
      return locks.length > 0;
    });
    const second = await rejection(migrateToTarget(options, slow, to('latest')));
    expect(second.code).toBe('MigrationLocked');
    expect(second.message).toContain('another migration is running');
    await first;
    expect(await currentRevision(options)).toBe('1_slow');
  });

  it('waits for the lock up to the lock timeout when asked, then goes ahead once it is free', async () => {
    const holder = new pg.Client({ connectionString: options.databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_ID]);
      const waiting = { ...options, waitForLock: true, lockTimeoutMs: 200 };
      const err = await rejection(migrateToTarget(waiting, ordersMigrations, to('latest')));
      expect(err).toMatchObject({ code: 'MigrationLocked' });
      expect(err.message).toContain('waited 200 ms');
      const patient = migrateToTarget(
        { ...options, waitForLock: true, lockTimeoutMs: 10_000 },
        ordersMigrations,
        to('latest'),
      );
      await waitFor(async () => {
        const waiters = await query(
          options.databaseUrl,
          "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        );
        return waiters.length > 0;
      });
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_ID]);
      await patient;
      expect(await currentRevision(options)).toBe('3_create-customers');
    } finally {
      await holder.end();
    }
  });

  it('stamps a revision as current without running its SQL, and back', async () => {
    await stampTarget(options, ordersMigrations, to('2_add-note'));
    expect(await currentRevision(options)).toBe('2_add-note');
    expect(await tables(options.databaseUrl)).toEqual(['pgmigrations', 'pgmigrations_archive']);
    await stampTarget(options, ordersMigrations, to('base'));
    expect(await currentRevision(options)).toBe('base');
  });

  it('runs a no-transaction migration (CREATE INDEX CONCURRENTLY) between transactional segments', async () => {
    const files = {
      ...ordersMigrations,
      '4_index-total.sql':
        '-- schemaops: no-transaction\n-- Up Migration\nCREATE INDEX CONCURRENTLY orders_total ON orders (total);\n' +
        'CREATE INDEX CONCURRENTLY orders_note ON orders (note);\n' +
        '-- Down Migration\nDROP INDEX CONCURRENTLY orders_note;\nDROP INDEX CONCURRENTLY orders_total;\n',
      '5_audit.sql': '-- Up Migration\nCREATE TABLE audit (id int);\n-- Down Migration\nDROP TABLE audit;\n',
    };
    await migrateToTarget(options, files, to('latest'));
    const indexes = await query<{ indexname: string }>(
      options.databaseUrl,
      "SELECT indexname FROM pg_indexes WHERE tablename = 'orders' ORDER BY 1",
    );
    expect(indexes.map((i) => i.indexname)).toEqual(['orders_note', 'orders_pkey', 'orders_total']);
    await migrateToTarget(options, files, to('3_create-customers'));
    expect(await currentRevision(options)).toBe('3_create-customers');
  });

  it('reports the revision reached when a segment after a no-transaction migration fails', async () => {
    const files = {
      ...ordersMigrations,
      '4_index-total.sql':
        '-- schemaops: no-transaction\n-- Up Migration\nCREATE INDEX CONCURRENTLY orders_total ON orders (total);\n' +
        '-- Down Migration\nDROP INDEX CONCURRENTLY orders_total;\n',
      '5_broken.sql':
        '-- Up Migration\nCREATE TABLE audit (id int);\nSELECT no_such_function();\n-- Down Migration\n',
    };
    const err = await rejection(migrateToTarget(options, files, to('latest')));
    expect(err).toMatchObject({ code: 'MigrationFailed', file: '5_broken.sql', revision: '4_index-total' });
    expect(await currentRevision(options)).toBe('4_index-total');
    expect(await tables(options.databaseUrl)).not.toContain('audit');
  });

  it('reports an unreachable database without echoing its URL', async () => {
    const url = 'postgres://app:VerySecretPw@127.0.0.1:1/nowhere';
    const err = await rejection(currentRevision({ databaseUrl: url }));
    expect(err.code).toBe('DatabaseUnreachable');
    expect(err.message).not.toContain('VerySecretPw');
  });
});

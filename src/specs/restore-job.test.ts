import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freshDatabase, query, tableSnapshot, testPostgres } from '../../test/support/db.js';
import { runJobScript } from '../../test/support/job-script.js';
import type { BackupSpec } from '../api/v1alpha1/spec.js';
import { MIGRATION_LOCK_ID } from '../migrations/engine.js';
import { buildBackupJob, parseBackupSummary, type BackupSummary } from './backup-job.js';
import { buildRestoreJob, parseRestoreSummary } from './restore-job.js';

const owner = { name: 'orders', namespace: 'shop', uid: '3f1c2a9e-0000-4000-8000-000000000002' };
const backupSpec: BackupSpec = {
  pvc: 'orders-backups',
  image: 'postgres:16',
  retain: 3,
  jobTTL: '1h',
  verify: 'Read',
  compression: 'auto',
};
const HASH = `sha256:${'ab'.repeat(32)}`;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function backupDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'schemaops-restore-'));
  dirs.push(dir);
  return dir;
}

function backUp(
  url: string,
  dir: string,
  options: { now?: Date; verify?: 'Read' | 'Restore'; protect?: string; retain?: number } = {},
) {
  const job = buildBackupJob({
    migration: owner,
    planHash: HASH,
    backup: { ...backupSpec, verify: options.verify ?? 'Read', retain: options.retain ?? 3 },
    databaseSecret: { name: 'orders-db', key: 'url' },
    timeoutSeconds: 600,
    now: options.now ?? new Date('2026-11-21T12:00:00Z'),
    ...(options.protect ? { protect: options.protect } : {}),
  });
  const run = runJobScript(job, { databaseUrl: url, backupDir: dir });
  const summary =
    run.status === 0 ? parseBackupSummary(readFileSync(join(dir, 'termination-log'), 'utf8')) : undefined;
  return { ...run, summary };
}

function restore(
  url: string,
  dir: string,
  backup: { file: string; countsSha256: string },
  lockTimeoutMs = 2_000,
) {
  const job = buildRestoreJob({
    name: 'orders-restore-0123456789',
    migration: owner,
    backup: backupSpec,
    databaseSecret: { name: 'orders-db', key: 'url' },
    file: backup.file,
    countsSha256: backup.countsSha256,
    timeoutSeconds: 600,
    lockTimeoutMs,
  });
  rmSync(join(dir, 'termination-log'), { force: true });
  return runJobScript(job, { databaseUrl: url, backupDir: dir });
}

/** A database as an app with three migrations applied might have it, public's privileges changed by its owner. */
async function shopDatabase(): Promise<string> {
  const url = await freshDatabase('restore');
  await query(
    url,
    `CREATE TABLE pgmigrations (id serial PRIMARY KEY, name text NOT NULL, run_on timestamp NOT NULL)`,
  );
  await query(
    url,
    `INSERT INTO pgmigrations (name, run_on) VALUES ('1_customers', now()), ('2_email', now())`,
  );
  await query(url, `CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL)`);
  await query(url, `INSERT INTO customers SELECT g, 'c' || g || '@shop.test' FROM generate_series(1, 50) g`);
  await query(url, `CREATE TABLE "Audit Log" (id int, note text)`);
  await query(
    url,
    `INSERT INTO "Audit Log" VALUES (1, E'line one\\nline two'), (2, 'tab\there'), (3, 'back\\\\slash')`,
  );
  await query(url, `CREATE SCHEMA billing`);
  await query(
    url,
    `CREATE TABLE billing.invoices (id int PRIMARY KEY, customer int REFERENCES customers(id))`,
  );
  await query(url, `INSERT INTO billing.invoices SELECT g, g FROM generate_series(1, 20) g`);
  return url;
}

/** What a later migration and a month of traffic do: a table with a foreign key into customers, a column, rows. */
async function laterChanges(url: string): Promise<void> {
  await query(
    url,
    `CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES customers(id))`,
  );
  await query(url, `INSERT INTO orders SELECT g, g FROM generate_series(1, 30) g`);
  await query(url, `ALTER TABLE customers ADD COLUMN name text`);
  await query(url, `UPDATE customers SET email = 'changed' WHERE id <= 10`);
  await query(url, `DELETE FROM billing.invoices WHERE id > 15`);
  await query(url, `INSERT INTO customers VALUES (51, 'new@shop.test', 'new')`);
  await query(url, `INSERT INTO pgmigrations (name, run_on) VALUES ('3_orders', now())`);
  await query(url, `CREATE SCHEMA reports`);
  await query(
    url,
    `CREATE VIEW reports.customer_orders AS SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer = c.id GROUP BY c.id`,
  );
}

async function publicSchema(url: string) {
  const [row] = await query<{ owner: string; acl: string | null }>(
    url,
    `SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'public'`,
  );
  return row;
}

describe('the restore Job, run by /bin/sh against a real PostgreSQL', () => {
  let url: string;
  let dir: string;
  let backup: BackupSummary;
  let atBackup: Awaited<ReturnType<typeof tableSnapshot>>;

  beforeAll(async () => {
    url = await shopDatabase();
    dir = backupDir();
    const run = backUp(url, dir);
    expect(run.stderr).not.toContain(testPostgres().password);
    expect(run.status).toBe(0);
    backup = run.summary!;
    atBackup = await tableSnapshot(url);
  });

  it('records every table and its rows, read back from the dump, names quoted as pg_dump quotes them', () => {
    expect(backup).toMatchObject({ tables: 4, rows: 2 + 50 + 3 + 20, verified: 'Read' });
    expect(backup.tableRows).toEqual(
      expect.arrayContaining([
        { table: 'public.customers', rows: 50 },
        { table: 'public."Audit Log"', rows: 3 },
        { table: 'billing.invoices', rows: 20 },
        { table: 'public.pgmigrations', rows: 2 },
      ]),
    );
    const counts = readFileSync(join(dir, `${backup.file}.counts`));
    expect(createHash('sha256').update(counts).digest('hex')).toBe(backup.countsSha256);
  });

  it('restores exactly the backup after later migrations added a table with a foreign key into a restored one', async () => {
    const publicBefore = await publicSchema(url);
    await laterChanges(url);
    expect(await tableSnapshot(url)).not.toEqual(atBackup);

    const run = restore(url, dir, backup);
    expect(run.stderr).not.toContain(testPostgres().password);
    expect(run.status).toBe(0);
    expect(parseRestoreSummary(readFileSync(join(dir, 'termination-log'), 'utf8'))).toEqual({
      restored: backup.file,
      tables: 4,
      rows: 75,
    });
    expect(readdirSync(run.connectionDir)).toEqual([]);
    // Every table, column and row is the backup's; what came later is gone, the view that depended on it too.
    expect(await tableSnapshot(url)).toEqual(atBackup);
    const [later] = await query<{ orders: string | null; view: string | null }>(
      url,
      `SELECT to_regclass('public.orders')::text AS orders, to_regclass('reports.customer_orders')::text AS view`,
    );
    expect(later).toEqual({ orders: null, view: null });
    // The foreign key into customers came back with it, and public keeps its owner and privileges.
    await expect(query(url, 'INSERT INTO billing.invoices VALUES (99, 12345)')).rejects.toThrow(
      /foreign key/,
    );
    expect(await publicSchema(url)).toEqual(publicBefore);
  });

  it('leaves the database as it was when the dump is truncated', async () => {
    await query(url, `INSERT INTO customers VALUES (60, 'after@shop.test')`);
    const before = await tableSnapshot(url);
    const broken = 'orders-20261121T130000Z.dump';
    writeFileSync(join(dir, broken), readFileSync(join(dir, backup.file)));
    writeFileSync(join(dir, `${broken}.counts`), readFileSync(join(dir, `${backup.file}.counts`)));
    // Cut inside the data: the table of contents still reads, the rows do not.
    truncateSync(join(dir, broken), statSync(join(dir, broken)).size - 40);

    const run = restore(url, dir, { file: broken, countsSha256: backup.countsSha256 });
    expect(run.status).not.toBe(0);
    // It got as far as the transaction: the schemas were dropped inside it, then it was rolled back.
    expect(run.stderr).toContain(
      'could not read all of orders-20261121T130000Z.dump; the restore was rolled back',
    );
    expect(await tableSnapshot(url)).toEqual(before);
  });

  it('rolls back when a table does not get the rows recorded at backup time', async () => {
    const before = await tableSnapshot(url);
    const edited = 'orders-20261121T140000Z.dump';
    writeFileSync(join(dir, edited), readFileSync(join(dir, backup.file)));
    const counts = readFileSync(join(dir, `${backup.file}.counts`), 'utf8').replace(
      '50\tpublic.customers',
      '51\tpublic.customers',
    );
    writeFileSync(join(dir, `${edited}.counts`), counts);
    const sha = createHash('sha256').update(counts).digest('hex');

    const run = restore(url, dir, { file: edited, countsSha256: sha });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      'table public.customers has 50 rows after the restore; the backup recorded 51',
    );
    expect(run.stderr).toContain('rolled back');
    expect(await tableSnapshot(url)).toEqual(before);
  });

  it('refuses counts that are not the ones recorded, and a file that is not there, before connecting', async () => {
    const before = await tableSnapshot(url);
    const wrongSha = restore(url, dir, { file: backup.file, countsSha256: 'f'.repeat(64) });
    expect(wrongSha.status).not.toBe(0);
    expect(wrongSha.stderr).toContain('are not the ones recorded when it was taken; nothing was changed');
    const missing = restore(url, dir, {
      file: 'orders-20990101T000000Z.dump',
      countsSha256: backup.countsSha256,
    });
    expect(missing.stderr).toContain('is not on the backup volume; nothing was changed');
    const escape = restore(url, dir, { file: '../etc/passwd', countsSha256: backup.countsSha256 });
    expect(escape.stderr).toContain('is not a file name; nothing was changed');
    expect(await tableSnapshot(url)).toEqual(before);
  });

  it('waits for no migration: a session holding the migration lock makes it fail unchanged', async () => {
    const before = await tableSnapshot(url);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_ID]);
      const run = restore(url, dir, backup, 300);
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(/lock timeout/);
      expect(await tableSnapshot(url)).toEqual(before);
    } finally {
      await holder.end();
    }
  });
});

describe('the restore Job as the role that owns the database, not a superuser', () => {
  it('replaces public, owned by pg_database_owner, keeping its owner and privileges', async () => {
    const role = `restore_owner_${process.pid}`;
    const admin = testPostgres().adminUrl;
    await query(admin, `CREATE ROLE ${role} LOGIN PASSWORD 'owner-secret-1'`);
    const adminOfDb = new URL(await freshDatabase('owned'));
    const database = adminOfDb.pathname.slice(1);
    await query(admin, `ALTER DATABASE "${database}" OWNER TO ${role}`);
    const url = new URL(adminOfDb);
    url.username = role;
    url.password = 'owner-secret-1';
    const asOwner = url.toString();
    await query(asOwner, 'CREATE TABLE customers (id int PRIMARY KEY, email text)');
    await query(asOwner, "INSERT INTO customers VALUES (1, 'a'), (2, 'b')");
    const dir = backupDir();
    const backup = backUp(asOwner, dir);
    expect(backup.status).toBe(0);
    const atBackup = await tableSnapshot(asOwner);
    const publicBefore = await publicSchema(asOwner);
    expect(publicBefore?.owner).toBe('pg_database_owner');
    await query(asOwner, 'CREATE TABLE orders (id int, customer int REFERENCES customers (id))');
    await query(asOwner, 'DELETE FROM customers WHERE id = 2');

    const run = restore(asOwner, dir, backup.summary!);
    expect(run.stderr).not.toContain('owner-secret-1');
    expect(run.status).toBe(0);
    expect(await tableSnapshot(asOwner)).toEqual(atBackup);
    expect(await publicSchema(asOwner)).toEqual(publicBefore);
  });
});

describe('the restore drill (backup.verify: Restore)', () => {
  const drills = async () =>
    query<{ datname: string }>(
      testPostgres().adminUrl,
      `SELECT datname FROM pg_database WHERE datname LIKE 'schemaops_drill_%'`,
    );

  it('restores the new dump into a scratch database, checks every count, and drops it', async () => {
    const url = await shopDatabase();
    const dir = backupDir();
    const run = backUp(url, dir, { verify: 'Restore' });
    expect(run.status).toBe(0);
    expect(run.summary).toMatchObject({ verified: 'Restore', tables: 4 });
    expect(run.stderr).toContain('restore drill passed');
    expect(await drills()).toEqual([]);
  });

  it('fails the backup, prunes nothing and keeps no file, when the dump does not restore', async () => {
    const url = await shopDatabase();
    // A classic: an index on a function whose body reads another table by an unqualified name. It dumps
    // fine and every row reads back, but pg_restore runs with an empty search_path and cannot build it.
    await query(url, `CREATE TABLE tiers (id int PRIMARY KEY, rank int)`);
    await query(url, `INSERT INTO tiers VALUES (1, 10)`);
    await query(
      url,
      `CREATE FUNCTION tier_rank(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT rank FROM tiers WHERE id = $1'`,
    );
    await query(url, `CREATE INDEX customers_rank ON customers (tier_rank(1))`);
    const dir = backupDir();
    const older = 'orders-20261101T000000Z.dump';
    for (const stamp of ['20261101T000000Z', '20261102T000000Z', '20261103T000000Z'])
      writeFileSync(join(dir, `orders-${stamp}.dump`), 'an older dump');

    const read = backUp(url, dir, { now: new Date('2026-11-21T12:00:00Z') });
    expect(read.status).toBe(0); // Read alone cannot see it

    const drilled = backUp(url, dir, { verify: 'Restore', now: new Date('2026-11-21T13:00:00Z') });
    expect(drilled.status).not.toBe(0);
    expect(drilled.stderr).toMatch(/relation "tiers" does not exist/);
    expect(readdirSync(dir)).not.toContain('orders-20261121T130000Z.dump');
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial') || f.endsWith('.partial.counts'))).toEqual(
      [],
    );
    expect(readdirSync(dir)).toContain('orders-20261121T120000Z.dump');
    expect(readdirSync(dir)).toContain('orders-20261103T000000Z.dump');
    expect(readdirSync(dir)).not.toContain(older); // pruned by the good backup before, not by the failed one
    expect(await drills()).toEqual([]);
  });

  it('never prunes the dump a restore is about to read', async () => {
    const url = await shopDatabase();
    const dir = backupDir();
    const oldest = 'orders-20261101T000000Z.dump';
    writeFileSync(join(dir, oldest), 'the one being restored');
    writeFileSync(join(dir, 'orders-20261102T000000Z.dump'), 'another');
    const run = backUp(url, dir, { retain: 1, protect: oldest });
    expect(run.status).toBe(0);
    expect(run.summary?.pruned).toEqual(['orders-20261102T000000Z.dump']);
    expect(
      readdirSync(dir)
        .filter((f) => f.endsWith('.dump'))
        .sort(),
    ).toEqual([oldest, 'orders-20261121T120000Z.dump']);
  });
});

describe('a backup of the tables a plan touches, and its restore', () => {
  /** Customers, orders with a foreign key into it, a view over it, and an unrelated audit table. */
  async function twoPartDatabase(): Promise<string> {
    const url = await freshDatabase('tables');
    await query(url, 'CREATE TABLE customers (id serial PRIMARY KEY, email text)');
    await query(url, "INSERT INTO customers (email) SELECT 'c' || g FROM generate_series(1, 20) g");
    await query(url, 'CREATE TABLE orders (id int PRIMARY KEY, customer int REFERENCES customers (id))');
    await query(url, 'INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g');
    await query(url, 'CREATE VIEW active AS SELECT id FROM customers WHERE email IS NOT NULL');
    await query(url, 'CREATE TABLE audit (id serial, note text)');
    await query(url, "INSERT INTO audit (note) VALUES ('before')");
    return url;
  }

  function backUpTables(url: string, dir: string, tables: string[]) {
    const job = buildBackupJob({
      migration: owner,
      planHash: HASH,
      backup: backupSpec,
      databaseSecret: { name: 'orders-db', key: 'url' },
      timeoutSeconds: 600,
      now: new Date('2026-11-21T12:00:00Z'),
      tables,
    });
    const run = runJobScript(job, { databaseUrl: url, backupDir: dir });
    const summary =
      run.status === 0 ? parseBackupSummary(readFileSync(join(dir, 'termination-log'), 'utf8')) : undefined;
    return { ...run, summary };
  }

  function restoreTables(url: string, dir: string, summary: BackupSummary, created: string[]) {
    const job = buildRestoreJob({
      name: 'orders-restore-0123456789',
      migration: owner,
      backup: backupSpec,
      databaseSecret: { name: 'orders-db', key: 'url' },
      file: summary.file,
      countsSha256: summary.countsSha256,
      tables: { relationsSha256: summary.relationsSha256!, created },
      timeoutSeconds: 600,
      lockTimeoutMs: 2_000,
    });
    return runJobScript(job, { databaseUrl: url, backupDir: dir });
  }

  it('holds the touched table, the tables with foreign keys into it and the views over it, and nothing else', async () => {
    const url = await twoPartDatabase();
    const dir = backupDir();
    const run = backUpTables(url, dir, ['"customers"']);
    expect(run.status).toBe(0);
    expect(run.summary).toMatchObject({
      file: 'orders-20261121T120000Z.tables.dump',
      scope: 'tables',
      tables: 2,
      rows: 30,
    });
    expect(
      readFileSync(join(dir, 'orders-20261121T120000Z.tables.dump.relations'), 'utf8').split('\n').sort(),
    ).toEqual(['', '"public"."active"', '"public"."customers"', '"public"."orders"']);
  });

  it('puts back exactly those relations, drops what the plan created, and keeps every other table as it is', async () => {
    const url = await twoPartDatabase();
    const dir = backupDir();
    const run = backUpTables(url, dir, ['"customers"']);
    const before = await tableSnapshot(url);
    // A plan that failed half-way: a column, changed and deleted rows, a new table hanging on customers.
    await query(url, 'ALTER TABLE customers ADD COLUMN name text');
    await query(url, "UPDATE customers SET email = 'x' WHERE id < 5");
    await query(url, 'DELETE FROM orders WHERE id > 5');
    await query(url, 'CREATE TABLE invoices (id int, customer int REFERENCES customers (id))');
    await query(url, 'INSERT INTO invoices VALUES (1, 1)');
    // Meanwhile nothing else writes to the touched tables, but the rest of the database is not theirs.
    await query(url, "INSERT INTO audit (note) VALUES ('after')");

    const restored = restoreTables(url, dir, run.summary!, ['"invoices"']);
    expect(restored.stderr).toContain('replacing 3 relation(s) the run touched');
    expect(restored.status).toBe(0);
    const after = await tableSnapshot(url);
    expect(after['public.customers']).toEqual(before['public.customers']);
    expect(after['public.orders']).toEqual(before['public.orders']);
    expect(after['public.invoices']).toBeUndefined();
    expect(after['public.audit']!.rows).toHaveLength(2);
    expect(await query(url, 'SELECT count(*)::int AS n FROM active')).toEqual([{ n: 20 }]);
    await expect(query(url, 'INSERT INTO orders VALUES (99, 12345)')).rejects.toThrow(/foreign key/);
  });

  it('refuses, unchanged, when dropping the touched tables would take something else with them', async () => {
    const url = await twoPartDatabase();
    const dir = backupDir();
    const run = backUpTables(url, dir, ['"customers"']);
    // Another table takes its ids from customers' sequence: dropping customers would drop that default.
    await query(url, "CREATE TABLE guests (id int DEFAULT nextval('customers_id_seq'), note text)");
    await query(url, "INSERT INTO guests (note) VALUES ('kept')");
    await query(url, "UPDATE customers SET email = 'x'");
    const before = await tableSnapshot(url);
    const restored = restoreTables(url, dir, run.summary!, []);
    expect(restored.status).not.toBe(0);
    expect(restored.stderr).toContain(
      'restoring only the tables the run touched would also drop what depends on them',
    );
    expect(restored.stderr).toContain('guests');
    expect(await tableSnapshot(url)).toEqual(before);
  });

  it('takes the whole database instead, saying why, when a touched table has a trigger that may write elsewhere', async () => {
    const url = await twoPartDatabase();
    await query(
      url,
      "CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO audit (note) VALUES ('x'); RETURN NEW; END$$",
    );
    await query(url, 'CREATE TRIGGER noted AFTER UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION note()');
    const run = backUpTables(url, backupDir(), ['"customers"']);
    expect(run.status).toBe(0);
    expect(run.summary).toMatchObject({
      scope: 'full',
      tables: 3,
      fallback: 'customers has trigger noted',
    });
  });

  it('is an empty archive when the plan only creates, and its restore drops what it created', async () => {
    const url = await twoPartDatabase();
    const dir = backupDir();
    const run = backUpTables(url, dir, []);
    expect(run.status).toBe(0);
    expect(run.summary).toMatchObject({ scope: 'tables', tables: 0 });
    const before = await tableSnapshot(url);
    await query(url, 'CREATE TABLE fresh (id int)');
    const restored = restoreTables(url, dir, run.summary!, ['"public"."fresh"']);
    expect(restored.status).toBe(0);
    expect(await tableSnapshot(url)).toEqual(before);
  });
});

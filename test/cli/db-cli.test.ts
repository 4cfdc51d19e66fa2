import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, query, testPostgres } from '../support/db.js';
import { migrationDir, ordersMigrations } from '../migrations/fixtures.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const allOutput: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Reports on stderr every import of the Kubernetes client, the operator's runtime or the local control plane. */
const heavyImportProbe = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ resolve(specifier, context, next) {
  if (/@kubernetes|[\\/](runtime|localcluster|kube)[\\/]/.test(specifier)) process.stderr.write('HEAVY-IMPORT ' + specifier + '\\n');
  return next(specifier, context);
} });`)}`;

/** Runs the real `schemaops` CLI in its own process. */
function schemaops(args: string[], env: Record<string, string> = {}, probe = false): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        ...(probe ? ['--import', heavyImportProbe] : []),
        '--import',
        join(root, 'scripts/register-ts.js'),
        join(root, 'src/main.ts'),
        ...args,
      ],
      { cwd: root, env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        allOutput.push(stdout, stderr);
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('schemaops db', () => {
  it('migrates, rolls back with relative targets and reports current and history', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ code: 0, stdout: 'base\n' });

    const plan = await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest'], env);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('base -> 3_create-customers: apply 3 migration(s)');
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: 'base\n' });

    const dry = await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest', '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: 'base\n' });

    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', '+1'], env)).code).toBe(0);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: '1_create-orders\n' });
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], env)).code).toBe(0);
    await query(url, 'INSERT INTO orders (total) VALUES (7), (8)');

    const down = await schemaops(
      ['db', 'migrate', '--dir', dir, '--to=-2', '--json', '--allow-data-loss'],
      env,
    );
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({
      direction: 'down',
      revision: '1_create-orders',
      destructive: true,
    });
    expect(await query(url, 'SELECT total FROM orders ORDER BY id')).toEqual([{ total: 7 }, { total: 8 }]);

    const history = await schemaops(['db', 'history', '--json'], env);
    expect(JSON.parse(history.stdout)).toMatchObject({
      current: '1_create-orders',
      migrations: [{ revision: '1_create-orders', status: 'applied', current: true }],
    });

    expect(
      (await schemaops(['db', 'migrate', '--dir', dir, '--to', '-1', '--allow-data-loss'], env)).code,
    ).toBe(0);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: 'base\n' });

    expect((await schemaops(['db', 'stamp', '--dir', dir, '--to', '2_add-note'], env)).code).toBe(0);
    expect(await schemaops(['db', 'current', '--json'], env)).toMatchObject({
      stdout: '{"revision":"2_add-note"}\n',
    });
    rmSync(dir, { recursive: true });
  });

  it('migrates only the plan reviewed with db plan when given --expect-hash', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    const plan = await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest', '--json'], env);
    const { hash, segments } = JSON.parse(plan.stdout) as { hash: string; segments: unknown[] };
    expect(segments).toEqual([
      { transaction: true, migrations: Object.keys(ordersMigrations).map((f) => f.slice(0, -4)) },
    ]);
    // Someone applies the first migration meanwhile: the reviewed plan is not what would run any more.
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', '+1'], env)).code).toBe(0);
    const refused = await schemaops(
      ['db', 'migrate', '--dir', dir, '--to', 'latest', '--expect-hash', hash, '--json'],
      env,
    );
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'PlanChanged' } });
    expect(refused.stderr).toContain('nothing ran');
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: '1_create-orders\n' });
    const again = await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest', '--json'], env);
    const { hash: next } = JSON.parse(again.stdout) as { hash: string };
    expect(
      (await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest', '--expect-hash', next], env)).code,
    ).toBe(0);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: '3_create-customers\n' });
    rmSync(dir, { recursive: true });
  });

  it('loads neither the Kubernetes client nor the operator for db commands', async () => {
    const url = await freshDatabase('cli');
    const current = await schemaops(['db', 'current'], { DATABASE_URL: url }, true);
    expect(current).toMatchObject({ code: 0, stdout: 'base\n' });
    expect(current.stderr).not.toContain('HEAVY-IMPORT');
    const dir = migrationDir(ordersMigrations);
    for (const args of [
      ['db', '--help'],
      ['db', 'history', '--dir', dir],
      ['db', 'show', '2', '--dir', dir],
      ['db', 'plan', '--dir', dir, '--to', 'latest', '--sql'],
    ]) {
      const run = await schemaops(args, { DATABASE_URL: url }, true);
      expect(run.code).toBe(0);
      expect(run.stderr).not.toContain('HEAVY-IMPORT');
    }
    rmSync(dir, { recursive: true });
    // The probe does see them when the whole CLI loads.
    const help = await schemaops(['--help'], {}, true);
    expect(help.stderr).toContain('HEAVY-IMPORT');
  });

  it('exits 1 with the file named when the plan is refused', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir({ ...ordersMigrations, '4_backfill.sql': '-- Up Migration\nSELECT 1;\n' });
    await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], { DATABASE_URL: url });
    const refused = await schemaops(['db', 'migrate', '--dir', dir, '--to', 'base'], { DATABASE_URL: url });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('4_backfill.sql has no "-- Down Migration" section');
    rmSync(dir, { recursive: true });
  });

  it.each([
    [['db', 'migrate', '--to', 'latest'], "required option '--dir <dir>' not specified"],
    [['db', 'migrate', '--dir', '/nonexistent', '--to', 'latest'], '--dir /nonexistent: no such directory'],
    [['db', 'plan', '--dir', '.', '--to', 'drop table'], '"drop table" is not a target'],
    [['db', 'migrate', '--dir', '.', '--to', 'latest', '--lock-timeout', 'soon'], '--lock-timeout'],
    [['db', 'current', '--no-such-flag'], "unknown option '--no-such-flag'"],
  ])('exits 2 on the usage error in %j, naming the flag', async (args, message) => {
    const run = await schemaops(args, { DATABASE_URL: testPostgres().adminUrl });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('exits 2 when no database is given', async () => {
    const run = await schemaops(['db', 'current'], { DATABASE_URL: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('set DATABASE_URL or pass --database-url');
  });

  it('never prints the database URL or its password, even when the connection fails', async () => {
    const { password } = testPostgres();
    const wrong = 'postgres://postgres:Wr0ngButSecret@127.0.0.1:1/nowhere';
    const failed = await schemaops(['db', 'current', '--database-url', wrong]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('cannot connect to the database');
    const everything = allOutput.join('\n');
    expect(everything).not.toContain(password);
    expect(everything).not.toContain('Wr0ngButSecret');
    expect(everything).not.toMatch(/postgres:\/\/[^\s]*@/);
  });

  it('marks the current revision in the history and lists the pending migrations', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    const atBase = await schemaops(['db', 'history', '--dir', dir], env);
    expect(atBase.code).toBe(0);
    expect(atBase.stdout.split('\n')[0]).toBe('* base  (current: no migration applied)');
    expect(atBase.stdout).toMatch(/^ {2}pending {2}\s+1_create-orders$/m);

    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', '+2'], env)).code).toBe(0);
    const text = await schemaops(['db', 'history', '--dir', dir], env);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ {2}applied {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}1_create-orders$/);
    expect(lines[1]).toMatch(/^\* applied {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}2_add-note\s+\(current\)$/);
    expect(lines[2]).toMatch(/^ {2}pending {2}\s+3_create-customers$/);

    const json = await schemaops(['db', 'history', '--dir', dir, '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({
      current: '2_add-note',
      migrations: [
        {
          revision: '1_create-orders',
          status: 'applied',
          current: false,
          runOn: expect.any(String),
          origin: 'file',
          changed: false,
        },
        {
          revision: '2_add-note',
          status: 'applied',
          current: true,
          runOn: expect.any(String),
          origin: 'file',
          changed: false,
        },
        {
          revision: '3_create-customers',
          status: 'pending',
          current: false,
          runOn: null,
          origin: 'file',
          changed: false,
        },
      ],
    });
    // Without the files, only what the database knows: applied migrations, and a hint.
    const bare = await schemaops(['db', 'history'], env);
    expect(bare.stdout).not.toContain('3_create-customers');
    expect(bare.stdout).toContain('(pending migrations are listed when --dir is given)');
    rmSync(dir, { recursive: true });
  });

  it('shows one migration by a unique prefix, from its file or from the archive once the file is gone', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], env)).code).toBe(0);

    const byNumber = await schemaops(['db', 'show', '2', '--dir', dir], env);
    expect(byNumber.code).toBe(0);
    expect(byNumber.stdout).toMatch(
      /^revision: 2_add-note\nstatus: {3}applied \d{4}-[\d\-T:.]+Z\nfile: {5}2_add-note\.sql\nchecksum: sha256:[0-9a-f]{64}\n/,
    );
    expect(byNumber.stdout).toContain(
      "-- Up Migration\nALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';\n\n-- Down Migration\nALTER TABLE orders DROP COLUMN note;",
    );
    const fromFile = JSON.parse(
      (await schemaops(['db', 'show', '3_create', '--dir', dir, '--json'], env)).stdout,
    ) as Record<string, unknown>;
    expect(fromFile).toMatchObject({
      revision: '3_create-customers',
      status: 'applied',
      current: true,
      origin: 'file',
      file: '3_create-customers.sql',
    });

    // The file leaves the directory (a Git revert): the archive still has its SQL and checksum.
    rmSync(join(dir, '3_create-customers.sql'));
    const archived = JSON.parse(
      (await schemaops(['db', 'show', '3', '--dir', dir, '--json'], env)).stdout,
    ) as Record<string, unknown>;
    expect(archived).toEqual({
      ...fromFile,
      origin: 'archive',
      file: null,
    });
    const text = await schemaops(['db', 'show', '3'], env);
    expect(text.stdout).toContain('file:     gone; the SQL below is from the archive');
    expect(text.stdout).toContain('-- Down Migration\nDROP TABLE customers;');
    rmSync(dir, { recursive: true });
  });

  it('lists the candidates of an ambiguous revision and suggests the closest names for an unknown one', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir({
      '1732200000000_create-orders.sql': ordersMigrations['1_create-orders.sql']!,
      '1732200000001_add-note.sql': ordersMigrations['2_add-note.sql']!,
    });
    const env = { DATABASE_URL: url };
    const ambiguous = await schemaops(['db', 'plan', '--dir', dir, '--to', '173220000000'], env);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain(
      '"173220000000" matches 2 migrations: 1732200000000_create-orders, 1732200000001_add-note; give more of the name',
    );
    const unique = await schemaops(['db', 'plan', '--dir', dir, '--to', '1732200000000', '--json'], env);
    expect(JSON.parse(unique.stdout)).toMatchObject({ to: '1732200000000_create-orders' });

    const unknown = await schemaops(['db', 'show', 'add-nte', '--dir', dir, '--json'], env);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: {
        code: 'UnknownTarget',
        message: expect.stringContaining('did you mean 1732200000001_add-note'),
        suggestions: ['1732200000001_add-note', '1732200000000_create-orders'],
      },
    });
    rmSync(dir, { recursive: true });
  });

  it('prints the SQL a plan runs, statement by statement under file:line headers, up and down', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    const up = await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest', '--sql'], env);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^hash: sha256:[0-9a-f]{64}$/m);
    expect(up.stdout).toContain(
      [
        '-- segment 1 of 1 (one transaction)',
        '-- 1_create-orders.sql:2',
        'CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);',
        '-- (records 1_create-orders as applied)',
        '-- 2_add-note.sql:2',
        "ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';",
        '-- (records 2_add-note as applied)',
        '-- 3_create-customers.sql:2',
        'CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);',
        '-- 3_create-customers.sql:3',
        "INSERT INTO customers (name) VALUES ('ada'), ('grace');",
        '-- (records 3_create-customers as applied)',
      ].join('\n'),
    );
    const upJson = JSON.parse(
      (await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest', '--sql', '--json'], env)).stdout,
    ) as {
      hash: string;
      segments: { statements: unknown[] }[];
    };
    expect(up.stdout).toContain(`hash: ${upJson.hash}`);
    expect(upJson.segments[0]!.statements[3]).toEqual({
      revision: '3_create-customers',
      file: '3_create-customers.sql',
      line: 3,
      origin: 'source',
      sql: "INSERT INTO customers (name) VALUES ('ada'), ('grace')",
    });

    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], env)).code).toBe(0);
    rmSync(join(dir, '3_create-customers.sql'));
    const down = await schemaops(['db', 'plan', '--dir', dir, '--to', '1', '--sql'], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('3_create-customers -> 1_create-orders: roll back 2 migration(s)');
    expect(down.stdout).toContain(
      [
        '-- 3_create-customers.sql (from the archive: the file is gone), down section line 2',
        'DROP TABLE customers;',
        '-- (records 3_create-customers as rolled back)',
        '-- 2_add-note.sql:4',
        'ALTER TABLE orders DROP COLUMN note;',
      ].join('\n'),
    );
    rmSync(dir, { recursive: true });
  });

  it('refuses a plan that can lose data without --allow-data-loss, naming the statements and rows, and touches nothing', async () => {
    const url = await freshDatabase('cli');
    const dir = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], env)).code).toBe(0);
    await query(url, "INSERT INTO orders (total, note) VALUES (7, 'seven'), (8, 'eight'), (9, '')");

    const refused = await schemaops(['db', 'migrate', '--dir', dir, '--to', '1_create-orders'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the plan can lose data; pass --allow-data-loss to run it; nothing ran');
    expect(refused.stderr).toContain('3_create-customers.sql:5: DROP TABLE customers (2 rows)');
    expect(refused.stderr).toContain(
      '2_add-note.sql:4: ALTER TABLE orders DROP COLUMN note (3 non-null values)',
    );
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: '3_create-customers\n' });
    expect(await query(url, 'SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 2 }]);
    expect(await query(url, 'SELECT note FROM orders ORDER BY id')).toEqual([
      { note: 'seven' },
      { note: 'eight' },
      { note: '' },
    ]);

    const json = await schemaops(['db', 'migrate', '--dir', dir, '--to', '1', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: {
        code: 'DataLossNotAllowed',
        losses: expect.arrayContaining([
          expect.objectContaining({ file: '3_create-customers.sql', rows: 2 }),
        ]),
      },
    });
    // A plan that loses nothing runs without the flag; the dry run shows what is at stake and runs nothing.
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', '1', '--dry-run'], env)).code).toBe(0);
    expect(await query(url, 'SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 2 }]);
    const allowed = await schemaops(['db', 'migrate', '--dir', dir, '--to', '1', '--allow-data-loss'], env);
    expect(allowed.code).toBe(0);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ stdout: '1_create-orders\n' });
    expect(await query(url, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 7 },
      { total: 8 },
      { total: 9 },
    ]);
    rmSync(dir, { recursive: true });
  });

  it.each([
    [['db', 'current', '--json', '--no-such-flag'], 2, "unknown option '--no-such-flag'"],
    [['db', 'plan', '--dir', '.', '--json'], 2, "required option '--to <target>' not specified"],
    [['db', 'plan', '--dir', '.', '--to', 'drop table', '--json'], 2, '"drop table" is not a target'],
    [['db', 'show', '--json'], 2, "missing required argument 'revision'"],
    [['db', '--json', 'frobnicate'], 2, "unknown command 'frobnicate'"],
    [
      ['db', 'current', '--json', '--database-url', 'postgres://u:Pw0rdSecret@127.0.0.1:1/x'],
      1,
      'cannot connect',
    ],
  ])('with --json, prints the error of %j as one JSON object on stdout', async (args, code, message) => {
    const run = await schemaops(args, { DATABASE_URL: '' });
    expect(run.code).toBe(code);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const parsed = JSON.parse(lines[0]!) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe(code === 2 ? 'UsageError' : 'DatabaseUnreachable');
    expect(parsed.error.message).toContain(message);
    expect(run.stdout).not.toContain('Pw0rdSecret');
  });

  it('with --json, says that no database was given as a JSON usage error', async () => {
    const run = await schemaops(['db', 'history', '--json'], { DATABASE_URL: '' });
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      error: { code: 'UsageError', message: 'no database: set DATABASE_URL or pass --database-url' },
    });
  });
});

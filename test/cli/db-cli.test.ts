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

    const down = await schemaops(['db', 'migrate', '--dir', dir, '--to=-2', '--json'], env);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({
      direction: 'down',
      revision: '1_create-orders',
      destructive: true,
    });
    expect(await query(url, 'SELECT total FROM orders ORDER BY id')).toEqual([{ total: 7 }, { total: 8 }]);

    const history = await schemaops(['db', 'history', '--json'], env);
    expect((JSON.parse(history.stdout) as { revision: string }[]).map((h) => h.revision)).toEqual([
      '1_create-orders',
    ]);

    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', '-1'], env)).code).toBe(0);
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
});

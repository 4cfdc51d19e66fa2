import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  currentRevision,
  executePlan,
  migrateToTarget,
  planToTarget,
  type EngineOptions,
} from '../../src/migrations/engine.js';
import { findPostgresBinDir, startPostgres, type PostgresServer } from '../../src/localcluster/postgres.js';
import { parseTarget } from '../../src/migrations/target.js';
import { freshDatabase, query, testPostgres } from '../support/db.js';
import { rejection } from '../support/refusal.js';
import { waitFor } from '../support/wait.js';

const latest = parseTarget('latest');

/** A first migration with rows, then one that sleeps inside its transaction: a window to cut the session. */
const slowSecond = (seconds: number): Record<string, string> => ({
  '1_create-a.sql': `-- Up Migration
CREATE TABLE a (id int PRIMARY KEY);
INSERT INTO a SELECT generate_series(1, 100);
-- Down Migration
DROP TABLE a;
`,
  '2_slow.sql': `-- Up Migration
CREATE TABLE b (id int);
INSERT INTO b VALUES (1), (2);
SELECT pg_sleep(${seconds});
-- Down Migration
DROP TABLE b;
`,
});

/** The backend running the migration's pg_sleep, once it is there. */
async function sleepingBackend(url: string): Promise<number> {
  return waitFor(
    async () => {
      const rows = await query<{ pid: number }>(
        url,
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'schemaops' AND query LIKE 'SELECT pg_sleep%' AND datname = current_database()",
      );
      return rows[0]?.pid;
    },
    { what: 'the migration to reach pg_sleep' },
  );
}

async function tables(url: string): Promise<string[]> {
  const rows = await query<{ tablename: string }>(
    url,
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  return rows.map((r) => r.tablename);
}

describe('one connection holds the lock and runs the SQL', () => {
  let options: EngineOptions;
  beforeEach(async () => {
    options = { databaseUrl: await freshDatabase('conn') };
  });

  it('reports a terminated migrating session as DatabaseUnreachable, naming the database, and leaves it whole', async () => {
    const plan = await planToTarget(options, slowSecond(60), latest);
    const running = rejection(executePlan(options, plan));
    const pid = await sleepingBackend(options.databaseUrl);
    await query(options.databaseUrl, 'SELECT pg_terminate_backend($1)', [pid]);
    const err = await running;
    expect(err.code).toBe('DatabaseUnreachable');
    const name = new URL(options.databaseUrl).pathname.slice(1);
    expect(err.message).toContain(`database "${name}" on 127.0.0.1`);
    expect(err.message).toContain('2_slow.sql:4');
    expect(err.message).not.toContain(testPostgres().password);
    expect(err.revision).toBe('base');
    expect(await currentRevision(options)).toBe('base');
    expect(await tables(options.databaseUrl)).not.toContain('a');
    // The lock went with the session: the next run goes through.
    await migrateToTarget(options, slowSecond(0), latest);
    expect(await currentRevision(options)).toBe('2_slow');
  });

  it('keeps a second run out while the first runs, even after the other sessions are killed', async () => {
    const first = migrateToTarget(options, slowSecond(2), latest);
    const pid = await sleepingBackend(options.databaseUrl);
    // Every schemaops session but the one running the SQL: an idle lock holder would be among them.
    await query(
      options.databaseUrl,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'schemaops' AND pid <> $1",
      [pid],
    );
    const second = await rejection(migrateToTarget(options, slowSecond(2), latest));
    expect(second.code).toBe('MigrationLocked');
    await first;
    expect(await currentRevision(options)).toBe('2_slow');
    expect(await query(options.databaseUrl, 'SELECT id FROM b ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });
});

describe('a PostgreSQL restart mid-migration', () => {
  let server: PostgresServer;
  const ids = (): { uid?: number; gid?: number } => {
    if (process.getuid?.() !== 0) return {};
    const passwd = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).split(':');
    return { uid: Number(passwd[2]), gid: Number(passwd[3]) };
  };
  const pgCtl = (args: string[]) =>
    promisify(execFile)(
      join(findPostgresBinDir(), 'pg_ctl'),
      ['-D', server.dataDir, '-l', join(dirname(server.dataDir), 'pg_ctl.log'), ...args],
      { ...ids(), cwd: dirname(server.dataDir) },
    );

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    // The restarted server is pg_ctl's, not the one startPostgres spawned: stop it first.
    await pgCtl(['stop', '-m', 'fast', '-w']).catch(() => undefined);
    await server.stop();
  });

  it('fails the run without crashing the process and leaves the database at the start revision', async () => {
    const options = { databaseUrl: await server.createDatabase('restart') };
    const plan = await planToTarget(options, slowSecond(60), latest);
    const running = rejection(executePlan(options, plan));
    await sleepingBackend(options.databaseUrl);
    await pgCtl(['restart', '-m', 'fast', '-w']);
    const err = await running;
    expect(err.code).toBe('DatabaseUnreachable');
    expect(err.message).not.toContain(server.password);
    expect(await currentRevision(options)).toBe('base');
    expect(await tables(options.databaseUrl)).toEqual(['pgmigrations', 'pgmigrations_archive']);
    await migrateToTarget(options, slowSecond(0), latest);
    expect(await query(options.databaseUrl, 'SELECT count(*)::int AS n FROM a')).toEqual([{ n: 100 }]);
  });
});

import pg from 'pg';
import { pino, type Logger } from 'pino';
import { MigrationError, MigrationErrorCode } from './errors.js';
import { BASE, planMigration, type Plan, type PlannedMigration } from './planner.js';
import { runSegment, segmentPlan } from './runner.js';
import { parseMigrationSource, type MigrationSource } from './source.js';
import {
  archiveInsertSql,
  DEFAULT_TABLE_OPTIONS,
  ensureTables,
  readDatabaseState,
  type AppliedMigration,
  type DatabaseState,
  type MigrationsTableOptions,
} from './state.js';
import type { Target } from './target.js';

/** node-pg-migrate's advisory lock key, so our runs and its CLI exclude each other. */
export const MIGRATION_LOCK_ID = '7241865325823964';

export interface EngineOptions extends Partial<MigrationsTableOptions> {
  readonly databaseUrl: string;
  /** Wait for another run's lock (up to lockTimeoutMs) instead of failing at once. */
  readonly waitForLock?: boolean;
  /** PostgreSQL lock_timeout for the run, milliseconds; default 2 s. */
  readonly lockTimeoutMs?: number;
  /** PostgreSQL statement_timeout for the run, milliseconds; default 10 min. */
  readonly statementTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface MigrateResult {
  readonly plan: Plan;
  /** The revision the database is at afterwards. */
  readonly revision: string;
  readonly dryRun: boolean;
}

const silent = pino({ level: 'silent' });

function tableOptions(options: EngineOptions): MigrationsTableOptions {
  return {
    migrationsTable: options.migrationsTable ?? DEFAULT_TABLE_OPTIONS.migrationsTable,
    schema: options.schema ?? DEFAULT_TABLE_OPTIONS.schema,
  };
}

function connectionConfig(options: EngineOptions): pg.ClientConfig {
  return {
    connectionString: options.databaseUrl,
    application_name: 'schemaops',
    lock_timeout: options.lockTimeoutMs ?? 2_000,
    statement_timeout: options.statementTimeoutMs ?? 600_000,
    connectionTimeoutMillis: 10_000,
  };
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  '57P03',
  '3D000',
  '28P01',
  '28000',
]);

function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : '';
  return (
    (typeof code === 'string' && UNREACHABLE_CODES.has(code)) ||
    /timeout expired|Connection terminated/i.test(message)
  );
}

/** Connects, turning a connection failure into DatabaseUnreachable without echoing the URL. */
async function connect(options: EngineOptions): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(options));
  client.on('error', () => undefined); // a dropped idle connection surfaces on the next query instead
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    const reason = err instanceof Error ? err.message : String(err);
    throw new MigrationError(
      MigrationErrorCode.DatabaseUnreachable,
      `cannot connect to the database: ${reason}`,
      {
        cause: err,
      },
    );
  }
}

async function withClient<T>(options: EngineOptions, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(options);
  try {
    return await work(client);
  } catch (err) {
    if (!(err instanceof MigrationError) && isUnreachable(err)) {
      throw new MigrationError(
        MigrationErrorCode.DatabaseUnreachable,
        `lost the database connection: ${String(err)}`,
        {
          cause: err,
        },
      );
    }
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Takes node-pg-migrate's advisory lock on this session for the whole run. */
async function acquireLock(client: pg.Client, options: EngineOptions): Promise<void> {
  if (options.waitForLock) {
    try {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_ID]);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
    }
  } else {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [
      MIGRATION_LOCK_ID,
    ]);
    if (rows[0]?.ok) return;
  }
  const waited = options.waitForLock ? ` (waited ${options.lockTimeoutMs ?? 2_000} ms)` : '';
  throw new MigrationError(
    MigrationErrorCode.MigrationLocked,
    `another migration is running on this database${waited}`,
  );
}

function sourceOf(files: MigrationSource | Readonly<Record<string, string>>): MigrationSource {
  return Array.isArray(files)
    ? (files as MigrationSource)
    : parseMigrationSource(files as Record<string, string>);
}

/** The revision the database is at: the last applied migration, or `base`. */
export async function currentRevision(options: EngineOptions): Promise<string> {
  const state = await withClient(options, (c) => readDatabaseState(c, tableOptions(options)));
  return state.applied.at(-1)?.revision ?? BASE;
}

/** Applied migrations, oldest first. */
export async function migrationHistory(options: EngineOptions): Promise<readonly AppliedMigration[]> {
  const state = await withClient(options, (c) => readDatabaseState(c, tableOptions(options)));
  return state.applied;
}

/** Plans the way to the target without changing anything. */
export async function planToTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
): Promise<Plan> {
  const source = sourceOf(files);
  const state = await withClient(options, (c) => readDatabaseState(c, tableOptions(options)));
  return planMigration(source, state, target);
}

/** Archives applied migrations that predate the archive (a database migrated by node-pg-migrate alone). */
async function backfillArchive(
  client: pg.Client,
  table: MigrationsTableOptions,
  source: MigrationSource,
  state: DatabaseState,
) {
  for (const { revision } of state.applied) {
    const m = source.find((s) => s.revision === revision);
    if (m && !state.archive.has(revision)) await client.query(archiveInsertSql(table, m));
  }
}

interface RunOptions {
  readonly dryRun?: boolean;
  readonly stampOnly?: boolean;
}

async function runPlan(
  options: EngineOptions,
  source: MigrationSource,
  target: Target,
  run: RunOptions,
): Promise<MigrateResult> {
  const table = tableOptions(options);
  const logger = options.logger ?? silent;
  return withClient(options, async (client) => {
    if (run.dryRun) {
      const plan = planMigration(source, await readDatabaseState(client, table), target);
      return { plan, revision: plan.from, dryRun: true };
    }
    await acquireLock(client, options);
    try {
      await ensureTables(client, table);
      const state = await readDatabaseState(client, table);
      const plan = planMigration(source, state, target, { stamp: run.stampOnly ?? false });
      await backfillArchive(client, table, source, state);
      const revision = await executePlan(options, plan, state, { stampOnly: run.stampOnly ?? false, logger });
      return { plan, revision, dryRun: false };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    }
  });
}

function placeholder(revision: string): PlannedMigration {
  return {
    revision,
    file: `${revision}.sql`,
    up: '',
    down: '',
    sql: '',
    noTransaction: false,
    checksum: '',
    origin: 'archive',
  };
}

/** Runs the plan segment by segment; returns the revision reached. A failure names the revision reached too. */
async function executePlan(
  options: EngineOptions,
  plan: Plan,
  state: DatabaseState,
  run: { stampOnly: boolean; logger: Logger },
): Promise<string> {
  // node-pg-migrate must see every applied migration as a file; only the planned ones' SQL runs.
  let applied: PlannedMigration[] = state.applied.map(
    (a) => plan.migrations.find((p) => p.revision === a.revision) ?? placeholder(a.revision),
  );
  let reached = plan.from;
  for (const segment of segmentPlan(plan.migrations)) {
    try {
      await runSegment({
        connection: connectionConfig(options),
        table: tableOptions(options),
        direction: plan.direction,
        applied,
        segment,
        stampOnly: run.stampOnly,
        logger: run.logger,
      });
    } catch (err) {
      if (err instanceof MigrationError) err.revision = reached;
      throw err;
    }
    if (plan.direction === 'up') applied = [...applied, ...segment.migrations];
    else applied = applied.slice(0, applied.length - segment.migrations.length);
    reached = applied.at(-1)?.revision ?? BASE;
    run.logger.info(
      { revision: reached, migrations: segment.migrations.map((m) => m.revision) },
      plan.direction === 'up' ? 'applied' : 'rolled back',
    );
  }
  return reached;
}

/** Moves the database to the target: up or down as needed, under the advisory lock. */
export async function migrateToTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
  run: { dryRun?: boolean } = {},
): Promise<MigrateResult> {
  return runPlan(options, sourceOf(files), target, run);
}

/** Records the target as current without running any migration SQL (as `alembic stamp` does). */
export async function stampTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
): Promise<MigrateResult> {
  return runPlan(options, sourceOf(files), target, { stampOnly: true });
}

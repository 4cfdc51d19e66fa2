import pg from 'pg';
import type { Logger } from 'pino';
import { describeDataLoss, loadSqlParser, measureDataLoss } from '../sql/index.js';
import { MigrationError, MigrationErrorCode } from './errors.js';
import {
  BASE,
  describePlanChange,
  lossesOf,
  planMigration,
  type Plan,
  type PlanInputs,
  type PlanSummary,
} from './planner.js';
import { isConnectionLoss, runPlan } from './runner.js';
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

/** No logger given: nothing is logged (and `db …` does not load pino for it). */
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined };

function tableOptions(options: EngineOptions): MigrationsTableOptions {
  return {
    migrationsTable: options.migrationsTable ?? DEFAULT_TABLE_OPTIONS.migrationsTable,
    schema: options.schema ?? DEFAULT_TABLE_OPTIONS.schema,
  };
}

function connectionConfig(options: EngineOptions): pg.ClientConfig {
  return {
    // Queries are sent without waiting for the previous answer; the runner relies on it for whole transactions.
    pipeline: true,
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
    isConnectionLoss(err) ||
    /timeout expired/i.test(message)
  );
}

/** `database "orders" on db.internal:5432`: what an error may say about the database; never the URL or password. */
export function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
    return `database "${name}" on ${url.hostname}${url.port ? `:${url.port}` : ''}`;
  } catch {
    return 'the database';
  }
}

function unreachable(options: EngineOptions, what: string, err: unknown): MigrationError {
  const reason = err instanceof Error ? err.message : String(err);
  return new MigrationError(
    MigrationErrorCode.DatabaseUnreachable,
    `${what} ${describeDatabase(options.databaseUrl)}: ${reason}`,
    { cause: err },
  );
}

/**
 * Connects, turning a connection failure into DatabaseUnreachable without echoing the URL. The connection has an
 * `error` listener: a session lost while idle (terminated, server restarted) fails its next query instead of
 * crashing the process.
 */
async function connect(options: EngineOptions): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(options));
  client.on('error', (err) => options.logger?.warn({ err: err.message }, 'database connection lost'));
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    throw unreachable(options, 'cannot connect to the', err);
  }
}

/** Runs work on a connection of its own, which is closed afterwards whatever happened (never reused). */
async function withClient<T>(options: EngineOptions, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(options);
  try {
    return await work(client);
  } catch (err) {
    if (!(err instanceof MigrationError) && isUnreachable(err))
      throw unreachable(options, 'lost the connection to the', err);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Takes node-pg-migrate's advisory lock on this session, the one that runs the SQL: both end together. */
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

/** The data at stake in a plan, measured in the database (read-only, rolled back) on the caller's connection. */
async function measured(client: pg.Client, plan: Plan): Promise<Plan> {
  if (plan.dataLoss.candidates.length === 0) return plan;
  await client.query('BEGIN READ ONLY');
  try {
    const losses = await measureDataLoss(client, plan.dataLoss.candidates);
    const destructive = losses.length + plan.dataLoss.notAnalysable.length > 0;
    return { ...plan, dataLoss: { ...plan.dataLoss, losses }, destructive };
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * Plans the way to the target without changing anything: the statements, their segments, the hash, and the
 * data at stake measured in the database (read-only).
 */
export async function planToTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
  run: { stamp?: boolean } = {},
): Promise<Plan> {
  const source = sourceOf(files);
  await loadSqlParser();
  return withClient(options, async (client) =>
    measured(
      client,
      planMigration(source, await readDatabaseState(client, tableOptions(options)), target, run),
    ),
  );
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

/** Measures the data at stake again under the lock: what was judged free of loss must still be. */
async function refuseNewDataLoss(client: pg.Client, plan: Plan): Promise<void> {
  const now = await measured(client, plan);
  if (!now.destructive) return;
  throw new MigrationError(
    MigrationErrorCode.PlanChanged,
    `the plan was judged to lose no data, but now it would: ${describeDataLoss(lossesOf(now), now.dataLoss.notAnalysable)}; nothing ran`,
  );
}

/** A plan to execute: its inputs, its hash, and what else is known of it to say what changed. */
export type PlanToExecute = PlanSummary & { readonly inputs: PlanInputs };

/** Runs a plan on the connection that holds the lock and read `state`; releases the lock once it committed. */
async function runLocked(
  client: pg.Client,
  options: EngineOptions,
  plan: Plan,
  state: DatabaseState,
): Promise<MigrateResult> {
  if (plan.migrations.length === 0) return { plan, revision: plan.from, dryRun: false };
  const table = tableOptions(options);
  const logger = options.logger ?? silent;
  await ensureTables(client, table);
  await backfillArchive(client, table, plan.inputs.source, state);
  const database = describeDatabase(options.databaseUrl);
  const revision = await runPlan({ client, table, plan, state, logger, database });
  logger.info(
    { from: plan.from, revision, hash: plan.hash },
    plan.direction === 'up' ? 'applied' : 'rolled back',
  );
  await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_ID]);
  return { plan, revision, dryRun: false };
}

/**
 * Executes a plan, never a target: on one connection it takes the advisory lock, reads the database, plans again
 * from the same inputs and runs the statements only if the hash is the plan's; otherwise it refuses with
 * PlanChanged and nothing runs. The connection is closed afterwards; after a failure that also ends any
 * transaction and releases the lock.
 */
export async function executePlan(options: EngineOptions, planned: PlanToExecute): Promise<MigrateResult> {
  await loadSqlParser();
  return withClient(options, async (client) => {
    await acquireLock(client, options);
    const state = await readDatabaseState(client, tableOptions(options));
    const plan = planMigration(planned.inputs.source, state, planned.inputs.target, {
      stamp: planned.inputs.stamp,
    });
    if (plan.hash !== planned.hash)
      throw new MigrationError(MigrationErrorCode.PlanChanged, describePlanChange(planned, plan));
    if (planned.destructive === false) await refuseNewDataLoss(client, plan);
    return runLocked(client, options, plan, state);
  });
}

/**
 * Plans the way to the target and executes that plan, on one connection that holds the advisory lock from
 * before the database is read until the plan has run: nothing can move the database between planning and
 * execution. With expectHash, the plan must be the one with that hash (the one reviewed with `db plan`), or
 * nothing runs. A dry run plans without the lock and changes nothing.
 */
export async function migrateToTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
  run: { dryRun?: boolean; expectHash?: string } = {},
): Promise<MigrateResult> {
  if (run.dryRun) {
    const plan = await planToTarget(options, files, target);
    return { plan, revision: plan.from, dryRun: true };
  }
  const source = sourceOf(files);
  await loadSqlParser();
  return withClient(options, async (client) => {
    await acquireLock(client, options);
    const state = await readDatabaseState(client, tableOptions(options));
    const plan = await measured(client, planMigration(source, state, target));
    if (run.expectHash !== undefined && plan.hash !== run.expectHash)
      throw new MigrationError(
        MigrationErrorCode.PlanChanged,
        describePlanChange({ hash: run.expectHash }, plan),
      );
    return runLocked(client, options, plan, state);
  });
}

/** Records the target as current without running any migration SQL (as `alembic stamp` does). */
export async function stampTarget(
  options: EngineOptions,
  files: MigrationSource | Readonly<Record<string, string>>,
  target: Target,
): Promise<MigrateResult> {
  const plan = await planToTarget(options, files, target, { stamp: true });
  return executePlan(options, plan);
}

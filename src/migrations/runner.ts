import type pg from 'pg';
import type { Logger } from 'pino';
import { MigrationError, MigrationErrorCode } from './errors.js';
import { BASE, type Plan, type PlannedMigration, type PlanStep } from './planner.js';
import {
  archiveDeleteSql,
  archiveInsertSql,
  qualified,
  type DatabaseState,
  type MigrationsTableOptions,
} from './state.js';

// The engine runs the planned statements itself, on the connection that holds the advisory lock, rather than
// through node-pg-migrate's runner: the runner takes SQL files whole (one multi-statement query), decides
// transactions itself (COMMIT/BEGIN injected around noTransaction under singleTransaction), and can only be
// given that connection as a dbClient it may leave in an aborted transaction (#1752). Running the parsed
// statements one by one keeps the segments exactly as planned and hashed, names the failing line, and writes
// node-pg-migrate's own rows (name, run_on = NOW()) so its CLI still agrees on what is applied.

/** Where a run got to: what committed, and the statement that failed. */
export interface Progress {
  /** The revision the committed bookkeeping says the database is at. */
  reached: string;
  /** Segments that committed whole, of all the plan's. */
  committedSegments: number;
  /** Migrations with statements committed but no committed bookkeeping row: half-applied. */
  halfApplied: Set<string>;
  failedAt?: { file: string; line: number } | undefined;
}

export interface ExecuteContext {
  readonly client: pg.ClientBase;
  readonly table: MigrationsTableOptions;
  readonly plan: Plan;
  readonly state: DatabaseState;
  readonly logger: Pick<Logger, 'debug' | 'info'>;
  /** The database as errors may name it (never the URL): `database "orders" on db.internal:5432`. */
  readonly database: string;
}

/** The query that records a migration as applied (or reverted): node-pg-migrate's row and our archive. */
function recordSql(ctx: ExecuteContext, m: PlannedMigration): string {
  const table = qualified(ctx.table, ctx.table.migrationsTable);
  const name = `'${m.revision.replace(/'/g, "''")}'`;
  // A multi-statement query is one implicit transaction: both rows or neither, also outside a transaction.
  return ctx.plan.direction === 'up'
    ? `INSERT INTO ${table} (name, run_on) VALUES (${name}, NOW()); ${archiveInsertSql(ctx.table, m)}`
    : `DELETE FROM ${table} WHERE name = ${name}; ${archiveDeleteSql(ctx.table, m.revision)}`;
}

/** The revision the database is at once `revision` is recorded in the plan's direction. */
function revisionAfter(ctx: ExecuteContext, revision: string): string {
  if (ctx.plan.direction === 'up') return revision;
  const applied = ctx.state.applied.map((a) => a.revision);
  return applied[applied.indexOf(revision) - 1] ?? BASE;
}

function stepSql(ctx: ExecuteContext, step: PlanStep): string {
  if (step.kind === 'statement') return step.sql;
  const m = ctx.plan.migrations.find((p) => p.revision === step.revision);
  if (!m) throw new Error(`the plan has no migration ${step.revision}`);
  return recordSql(ctx, m);
}

const locationOf = (step: PlanStep | undefined) =>
  step?.kind === 'statement' ? { file: step.file, line: step.line } : undefined;

/**
 * Sends a transaction's queries at once (the connection pipelines them) and waits for all: no round trip per
 * statement. After the first error PostgreSQL refuses the rest of the transaction and turns COMMIT into a
 * rollback, so the first rejected query is the statement that failed.
 */
async function runTransaction(ctx: ExecuteContext, steps: readonly PlanStep[], progress: Progress) {
  const queries = ['BEGIN', ...steps.map((step) => stepSql(ctx, step)), 'COMMIT'];
  const results = await Promise.allSettled(queries.map((sql) => ctx.client.query(sql)));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed < 0) return;
  progress.failedAt = locationOf(steps[failed - 1]);
  throw (results[failed] as PromiseRejectedResult).reason;
}

/** What committing these steps means for where the database is. */
function committed(ctx: ExecuteContext, steps: readonly PlanStep[], progress: Progress): void {
  for (const step of steps) {
    if (step.kind === 'record') {
      progress.reached = revisionAfter(ctx, step.revision);
      progress.halfApplied.delete(step.revision);
    } else progress.halfApplied.add(step.revision);
  }
}

async function runSegment(ctx: ExecuteContext, index: number, progress: Progress): Promise<void> {
  const segment = ctx.plan.segments[index]!;
  if (!segment.transaction) {
    // One at a time: each commits on its own, and nothing after a failure may run.
    for (const step of segment.steps) {
      progress.failedAt = locationOf(step);
      await ctx.client.query(stepSql(ctx, step));
      progress.failedAt = undefined;
      committed(ctx, [step], progress);
    }
    return;
  }
  // A failure leaves the transaction rolled back (or the session gone); the connection is discarded after it.
  await runTransaction(ctx, segment.steps, progress);
  committed(ctx, segment.steps, progress);
}

/** Where a failed run left the database, in words: committed segments, half-applied migrations, the revision. */
export function describeProgress(plan: Plan, progress: Progress): string {
  const parts = [
    `${progress.committedSegments} of ${plan.segments.length} segment(s) committed`,
    `the database is at ${progress.reached}`,
  ];
  if (progress.halfApplied.size > 0)
    parts.push(
      `HALF-APPLIED (statements committed outside a transaction, not recorded): ${[...progress.halfApplied].join(', ')}`,
    );
  return parts.join('; ');
}

/**
 * Runs the plan's segments in order on the caller's connection (which holds the lock). A failure is a
 * MigrationError naming the file and line that failed, the segments that committed and the revision reached.
 */
export async function runPlan(ctx: ExecuteContext): Promise<string> {
  const progress: Progress = {
    reached: ctx.plan.from,
    committedSegments: 0,
    halfApplied: new Set(),
  };
  try {
    for (let i = 0; i < ctx.plan.segments.length; i++) {
      await runSegment(ctx, i, progress);
      progress.committedSegments = i + 1;
      ctx.logger.debug({ segment: i + 1, revision: progress.reached }, 'segment committed');
    }
  } catch (err) {
    throw failure(ctx, progress, err);
  }
  return progress.reached;
}

/** A failed run's error: PostgreSQL's message where it failed, and the state left behind. */
function failure(ctx: ExecuteContext, progress: Progress, err: unknown): MigrationError {
  const at = progress.failedAt;
  const where = at ? `${at.file}:${at.line}: ` : '';
  const lost = isConnectionLoss(err);
  const reason = err instanceof Error ? err.message : String(err);
  const detail = lost ? `lost the connection to ${ctx.database}: ${reason}` : reason;
  const code = lost ? MigrationErrorCode.DatabaseUnreachable : MigrationErrorCode.MigrationFailed;
  const error = new MigrationError(code, `${where}${detail} (${describeProgress(ctx.plan, progress)})`, {
    cause: err,
    ...(at ? { file: at.file } : {}),
  });
  error.revision = progress.reached;
  error.halfApplied = [...progress.halfApplied];
  error.line = at?.line;
  return error;
}

/** SQLSTATEs and socket errors that mean the session is gone (terminated, server shut down or restarted). */
const CONNECTION_LOST = new Set(['57P01', '57P02', '57P03', 'ECONNRESET', 'EPIPE', '08006', '08003']);

export function isConnectionLoss(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  const message = err instanceof Error ? err.message : '';
  return (
    (typeof code === 'string' && CONNECTION_LOST.has(code)) ||
    /Connection terminated|Client was closed|not queryable/i.test(message)
  );
}

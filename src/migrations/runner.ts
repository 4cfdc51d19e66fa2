import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runner, type MigrationBuilder, type RunnerOption } from 'node-pg-migrate';
import type pg from 'pg';
import type { Logger } from 'pino';
import { MigrationError, MigrationErrorCode } from './errors.js';
import type { Direction, PlannedMigration } from './planner.js';
import { splitStatements } from './statements.js';
import { archiveDeleteSql, archiveInsertSql, type MigrationsTableOptions } from './state.js';

/** A run of plan steps that execute together: one transaction, or one migration that cannot be in one. */
export interface Segment {
  readonly transactional: boolean;
  readonly migrations: readonly PlannedMigration[];
}

/** Cuts a plan at each no-transaction migration, so everything else still runs in as few transactions as possible. */
export function segmentPlan(migrations: readonly PlannedMigration[]): Segment[] {
  const segments: { transactional: boolean; migrations: PlannedMigration[] }[] = [];
  for (const m of migrations) {
    const last = segments.at(-1);
    if (!m.noTransaction && last?.transactional) last.migrations.push(m);
    else segments.push({ transactional: !m.noTransaction, migrations: [m] });
  }
  return segments;
}

export interface SegmentRun {
  readonly connection: pg.ClientConfig;
  readonly table: MigrationsTableOptions;
  readonly direction: Direction;
  /** Applied revisions before this segment, oldest first: node-pg-migrate must see them as files too. */
  readonly applied: readonly PlannedMigration[];
  readonly segment: Segment;
  /** Record the revisions without running their SQL (stamp). */
  readonly stampOnly: boolean;
  readonly logger: Logger;
}

function migrationActions(run: SegmentRun, m: PlannedMigration, onStart: (revision: string) => void) {
  const bookkeeping = (direction: Direction): string =>
    direction === 'up' ? archiveInsertSql(run.table, m) : archiveDeleteSql(run.table, m.revision);
  const action = (direction: Direction) => (pgm: MigrationBuilder) => {
    onStart(m.revision);
    if (m.noTransaction) pgm.noTransaction();
    if (!run.stampOnly) {
      const sql = direction === 'up' ? m.up : (m.down ?? '');
      // Outside a transaction each statement goes on its own: a multi-statement query is an implicit transaction.
      for (const statement of m.noTransaction ? splitStatements(sql) : [sql]) pgm.sql(statement);
    }
    pgm.sql(bookkeeping(direction));
  };
  return { up: action('up'), down: action('down') };
}

function runnerLogger(logger: Logger) {
  const forward = (msg: string) => logger.debug({ source: 'node-pg-migrate' }, msg.trim());
  return { debug: forward, info: forward, warn: forward, error: forward };
}

/**
 * Runs one segment through node-pg-migrate on a connection of its own (discarded after a failure,
 * see node-pg-migrate#1752). The caller holds the advisory lock, so the runner does not take it.
 */
export async function runSegment(run: SegmentRun): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'schemaops-migrations-'));
  const byFile = new Map<string, PlannedMigration>();
  const visible = run.direction === 'up' ? [...run.applied, ...run.segment.migrations] : run.applied;
  let current: string | undefined;
  try {
    for (const m of visible) byFile.set(m.file, m);
    // node-pg-migrate only lists the directory; the loader below takes each migration from memory.
    await Promise.all(visible.map((m) => writeFile(join(dir, m.file), '')));
    const loader = (paths: string[]) =>
      Promise.resolve(
        paths.map((path) => {
          const m = byFile.get(path.slice(dir.length + 1));
          if (!m) throw new Error(`unexpected migration file ${path}`);
          return { id: path, filePaths: [path], actions: migrationActions(run, m, (r) => (current = r)) };
        }),
      );
    const options: RunnerOption = {
      databaseUrl: run.connection,
      dir,
      migrationsTable: run.table.migrationsTable,
      schema: run.table.schema,
      migrationsSchema: run.table.schema,
      direction: run.direction,
      count: run.segment.migrations.length,
      singleTransaction: run.segment.transactional,
      noLock: true,
      checkOrder: true,
      migrationLoaderStrategies: [{ extensions: ['.sql'], loader }],
      logger: runnerLogger(run.logger),
    };
    await runner(options);
  } catch (err) {
    const file = current === undefined ? undefined : `${current}.sql`;
    const detail = err instanceof Error ? err.message : String(err);
    throw new MigrationError(MigrationErrorCode.MigrationFailed, file ? `${file}: ${detail}` : detail, {
      cause: err,
      ...(file ? { file } : {}),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

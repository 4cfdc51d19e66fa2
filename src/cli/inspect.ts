import pg from 'pg';
import { describeDatabase, type EngineOptions } from '../migrations/engine.js';
import { MigrationError, MigrationErrorCode } from '../migrations/errors.js';
import { BASE } from '../migrations/planner.js';
import type { Migration, MigrationSource } from '../migrations/source.js';
import {
  DEFAULT_TABLE_OPTIONS,
  readDatabaseState,
  type ArchivedMigration,
  type DatabaseState,
} from '../migrations/state.js';

/**
 * Reads what the database holds of its migrations (the applied list and the archive) on a short-lived
 * connection, read-only; a connection failure is DatabaseUnreachable, naming the database, never the URL.
 */
export async function readState(options: EngineOptions): Promise<DatabaseState> {
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    application_name: 'schemaops',
    connectionTimeoutMillis: 10_000,
    statement_timeout: options.statementTimeoutMs ?? 60_000,
  });
  client.on('error', () => undefined);
  const failed = (what: string, err: unknown) =>
    new MigrationError(
      MigrationErrorCode.DatabaseUnreachable,
      `${what} ${describeDatabase(options.databaseUrl)}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw failed('cannot connect to the', err);
  }
  try {
    await client.query('SET default_transaction_read_only = on');
    return await readDatabaseState(client, {
      migrationsTable: options.migrationsTable ?? DEFAULT_TABLE_OPTIONS.migrationsTable,
      schema: options.schema ?? DEFAULT_TABLE_OPTIONS.schema,
    });
  } catch (err) {
    if (err instanceof MigrationError || (err as { code?: string }).code?.length === 5) throw err;
    throw failed('lost the connection to the', err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Every revision the files and the database know of, for resolving a revision argument. */
export function knownRevisions(source: MigrationSource, state: DatabaseState): string[] {
  return [
    ...new Set([
      ...source.map((m) => m.revision),
      ...state.applied.map((a) => a.revision),
      ...state.archive.keys(),
    ]),
  ];
}

/** Where a migration's SQL comes from: its file, or the archive when the file is gone. */
export type Origin = 'file' | 'archive' | 'none';

/** One migration as `db history` and `db show` present it. */
export interface MigrationView {
  readonly revision: string;
  readonly status: 'applied' | 'pending';
  /** The last applied migration (the database's current revision). */
  readonly current: boolean;
  /** When node-pg-migrate recorded it as applied. */
  readonly runOn: Date | undefined;
  readonly origin: Origin;
  readonly file: Migration | undefined;
  readonly archived: ArchivedMigration | undefined;
  /** The file's text changed since it was applied (its checksum is not the archived one). */
  readonly changed: boolean;
}

function changedSinceApplied(file: Migration | undefined, archived: ArchivedMigration | undefined): boolean {
  if (!file || !archived) return false;
  return ![file.checksum, file.legacyChecksum].includes(archived.checksum);
}

/**
 * The migration history as one list: applied migrations in the order they ran, then the files not applied
 * (pending), in the order they would run. Without files, only the applied ones.
 */
export function migrationViews(source: MigrationSource, state: DatabaseState): MigrationView[] {
  const files = new Map(source.map((m) => [m.revision, m]));
  const current = state.applied.at(-1)?.revision ?? BASE;
  const applied = state.applied.map((a): MigrationView => {
    const file = files.get(a.revision);
    const archived = state.archive.get(a.revision);
    return {
      revision: a.revision,
      status: 'applied',
      current: a.revision === current,
      runOn: a.runOn,
      origin: file ? 'file' : archived ? 'archive' : 'none',
      file,
      archived,
      changed: changedSinceApplied(file, archived),
    };
  });
  const appliedNames = new Set(state.applied.map((a) => a.revision));
  const pending = source
    .filter((m) => !appliedNames.has(m.revision))
    .map((m): MigrationView => ({
      revision: m.revision,
      status: 'pending',
      current: false,
      runOn: undefined,
      origin: 'file',
      file: m,
      archived: undefined,
      changed: false,
    }));
  return [...applied, ...pending];
}

/** One migration for `db show`: an archived one that is no longer applied (rolled back, file gone) included. */
export function migrationView(
  revision: string,
  source: MigrationSource,
  state: DatabaseState,
): MigrationView {
  const found = migrationViews(source, state).find((v) => v.revision === revision);
  if (found) return found;
  return {
    revision,
    status: 'pending',
    current: false,
    runOn: undefined,
    origin: 'archive',
    file: undefined,
    archived: state.archive.get(revision),
    changed: false,
  };
}

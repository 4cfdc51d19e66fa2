import pg from 'pg';
import { MIGRATION_LOCK_ID } from '../migrations/engine.js';

/** Which sessions a waiting migration waits for; best effort, for status only. */
export type Waited = 'migration lock' | 'table lock';

const ADVISORY_HOLDERS = `
  SELECT pid FROM pg_locks
  WHERE locktype = 'advisory' AND granted
    AND ((classid::bigint << 32) | objid::bigint) = $1::bigint`;

// Sessions other than ours holding a lock on a table of this database: what a lock_timeout waited behind.
const TABLE_LOCK_HOLDERS = `
  SELECT DISTINCT l.pid FROM pg_locks l
  JOIN pg_class c ON c.oid = l.relation
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  ORDER BY l.pid LIMIT 5`;

/** The pids holding what a migration waited for; empty when the database cannot say (or is down). */
export async function lockHolders(databaseUrl: string, waited: Waited): Promise<number[]> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'schemaops',
    connectionTimeoutMillis: 5_000,
    statement_timeout: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } =
      waited === 'migration lock'
        ? await client.query<{ pid: number }>(ADVISORY_HOLDERS, [MIGRATION_LOCK_ID])
        : await client.query<{ pid: number }>(TABLE_LOCK_HOLDERS);
    return rows.map((r) => r.pid);
  } catch {
    return [];
  } finally {
    await client.end().catch(() => undefined);
  }
}

import { redact } from '../redact.js';

/**
 * Why the engine refused or failed. Each code is also the reason the operator reports,
 * so they are CamelCase and stable.
 */
export const MigrationErrorCode = {
  InvalidMigrationFile: 'InvalidMigrationFile',
  /** PostgreSQL's parser cannot read a statement: its message and position in the file. */
  InvalidSql: 'InvalidSql',
  /** A new file has the number of an applied migration with another name. */
  RenamedMigration: 'RenamedMigration',
  /** The plan found under the lock is not the plan that was made (and approved): nothing ran. */
  PlanChanged: 'PlanChanged',
  UnknownTarget: 'UnknownTarget',
  IrreversibleMigration: 'IrreversibleMigration',
  ChecksumDrift: 'ChecksumDrift',
  MissingMigration: 'MissingMigration',
  OutOfOrderMigration: 'OutOfOrderMigration',
  MigrationLocked: 'MigrationLocked',
  MigrationFailed: 'MigrationFailed',
  DatabaseUnreachable: 'DatabaseUnreachable',
} as const;
export type MigrationErrorCode = (typeof MigrationErrorCode)[keyof typeof MigrationErrorCode];

/**
 * What PostgreSQL said about a statement it rejected (the fields of pg's DatabaseError), without the query
 * text. pg's own `file`, `line` and `routine` name PostgreSQL's C source, not a migration: they are left out.
 */
export interface PostgresError {
  readonly sqlState: string;
  readonly severity?: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
  /** The PL/pgSQL or SQL function context the error came from. */
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly constraint?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;
const OPTIONAL_FIELDS = [
  'severity',
  'detail',
  'hint',
  'where',
  'schema',
  'table',
  'column',
  'constraint',
] as const;

/** PostgreSQL's error in `err` (a pg DatabaseError: a SQLSTATE and a severity), if that is what it is. */
export function postgresErrorOf(err: unknown): PostgresError | undefined {
  if (!(err instanceof Error)) return undefined;
  const fields = err as Error & Record<string, unknown>;
  if (typeof fields.code !== 'string' || !SQLSTATE.test(fields.code) || typeof fields.severity !== 'string')
    return undefined;
  const optional: Record<string, string> = {};
  for (const name of OPTIONAL_FIELDS) {
    const value = fields[name];
    if (typeof value === 'string' && value !== '') optional[name] = value;
  }
  return { sqlState: fields.code, message: err.message, ...optional };
}

/** A refusal or failure of the engine, naming the file (migration) at fault where there is one. */
export class MigrationError extends Error {
  readonly code: MigrationErrorCode;
  /** The migration file (revision + ".sql") the error is about, if any. */
  readonly file: string | undefined;
  /** After a failed run: the revision the database was left at (the end of the last whole segment). */
  revision: string | undefined;
  /** After a failed run: migrations whose statements partly committed outside a transaction, unrecorded. */
  halfApplied: readonly string[] = [];
  /** The line of the statement that failed, in `file`. */
  line: number | undefined;

  constructor(code: MigrationErrorCode, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'MigrationError';
    this.code = code;
    this.file = options.file;
  }

  /** PostgreSQL's error, when the database rejected a statement (or the lock, or the session). */
  get postgres(): PostgresError | undefined {
    return postgresErrorOf(this.cause);
  }

  /** Refusals are decided before any SQL runs; a human must change the input. */
  get isRefusal(): boolean {
    return (
      this.code !== MigrationErrorCode.MigrationFailed &&
      this.code !== MigrationErrorCode.MigrationLocked &&
      this.code !== MigrationErrorCode.DatabaseUnreachable
    );
  }
}

/**
 * A failure as a log line carries it: the migration file and line, and PostgreSQL's error (SQLSTATE, message,
 * detail, hint…), each text with the secrets (the database URL, its password) replaced.
 */
export function failureLogFields(err: unknown, secrets: readonly string[]): Record<string, unknown> {
  if (!(err instanceof MigrationError)) return {};
  const fields: Record<string, unknown> = {};
  if (err.file !== undefined) fields.file = err.file;
  if (err.line !== undefined) fields.line = err.line;
  const postgres = err.postgres;
  if (postgres)
    fields.postgres = Object.fromEntries(
      Object.entries(postgres).map(([name, value]) => [name, redact(String(value), secrets)]),
    );
  return fields;
}

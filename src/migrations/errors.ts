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

  /** Refusals are decided before any SQL runs; a human must change the input. */
  get isRefusal(): boolean {
    return (
      this.code !== MigrationErrorCode.MigrationFailed &&
      this.code !== MigrationErrorCode.MigrationLocked &&
      this.code !== MigrationErrorCode.DatabaseUnreachable
    );
  }
}

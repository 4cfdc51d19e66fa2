/**
 * Why the engine refused or failed. Each code is also the reason the operator reports,
 * so they are CamelCase and stable.
 */
export const MigrationErrorCode = {
  InvalidMigrationFile: 'InvalidMigrationFile',
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

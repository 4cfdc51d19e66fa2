import { createHash } from 'node:crypto';
import { MigrationError, MigrationErrorCode } from './errors.js';

/** One migration, as read from a file or from the archive. */
export interface Migration {
  /** The file name without `.sql`; what node-pg-migrate records as `name`. */
  readonly revision: string;
  readonly file: string;
  readonly up: string;
  /** undefined when the file has no down section: the migration is irreversible. */
  readonly down: string | undefined;
  /** `-- schemaops: no-transaction`: PostgreSQL cannot run it inside a transaction. */
  readonly noTransaction: boolean;
  /** "sha256:<hex>" of the file's text with line endings normalised. */
  readonly checksum: string;
}

/** Migrations in the order node-pg-migrate runs them. */
export type MigrationSource = readonly Migration[];

const FILE_NAME = /^(\d+)_([A-Za-z0-9][\w.-]*)\.sql$/;
const UP_MARKER = /^\s*--[\s-]*up\s+migration/im;
const DOWN_MARKER = /^\s*--[\s-]*down\s+migration/im;
const NO_TRANSACTION = /^\s*--\s*schemaops:\s*no-transaction\s*$/im;

export function checksumOf(text: string): string {
  return `sha256:${createHash('sha256').update(normaliseLineEndings(text)).digest('hex')}`;
}

function normaliseLineEndings(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** The numeric prefix as node-pg-migrate reads it: 17 digits are a UTC timestamp, anything else a number. */
export function numericPrefix(revision: string): number {
  const prefix = /^\d+/.exec(revision)?.[0] ?? '';
  if (prefix.length === 17) {
    const [y, mo, d, h, mi, s, ms] = [0, 4, 6, 8, 10, 12, 14].map((i, k, all) => prefix.slice(i, all[k + 1]));
    return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`).valueOf();
  }
  return Number(prefix);
}

/** The order node-pg-migrate sorts file names in: numeric prefix, then a numeric-aware compare. */
export function compareRevisions(a: string, b: string): number {
  return (
    numericPrefix(a) - numericPrefix(b) ||
    a.localeCompare(b, undefined, {
      usage: 'sort',
      numeric: true,
      sensitivity: 'variant',
      ignorePunctuation: true,
    })
  );
}

function invalid(file: string, message: string): MigrationError {
  return new MigrationError(MigrationErrorCode.InvalidMigrationFile, `${file}: ${message}`, { file });
}

function sections(file: string, text: string): { up: string; down: string | undefined } {
  const upAt = text.search(UP_MARKER);
  const downAt = text.search(DOWN_MARKER);
  if (upAt < 0) throw invalid(file, 'no "-- Up Migration" section');
  if (downAt >= 0 && downAt < upAt) throw invalid(file, '"-- Down Migration" comes before "-- Up Migration"');
  const up = text.slice(upAt, downAt >= 0 ? downAt : undefined);
  const down = downAt >= 0 ? text.slice(downAt) : undefined;
  return { up, down };
}

/** True when the text has nothing but comments and white space. */
export function isBlankSql(sql: string): boolean {
  return (
    sql
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/--.*$/gm, '')
      .trim() === ''
  );
}

/** Parses one migration file; the error names the file. */
export function parseMigrationFile(file: string, text: string): Migration {
  if (/\.(up|down)\.sql$/.test(file)) {
    throw invalid(
      file,
      'split .up.sql/.down.sql files are not supported: put both sections in one .sql file',
    );
  }
  if (!FILE_NAME.test(file)) {
    throw invalid(
      file,
      'the name must be <number>_<name>.sql, for example 1732200000000_add-orders-index.sql',
    );
  }
  const normalised = normaliseLineEndings(text);
  const { up, down } = sections(file, normalised);
  if (isBlankSql(up)) throw invalid(file, 'the "-- Up Migration" section is empty');
  return {
    revision: file.slice(0, -'.sql'.length),
    file,
    up,
    down,
    noTransaction: NO_TRANSACTION.test(normalised),
    checksum: checksumOf(normalised),
  };
}

/**
 * Reads a set of migration files (file name → content, the shape of a ConfigMap's `data`).
 * Keys that do not end in `.sql` (a README, say) are ignored.
 */
export function parseMigrationSource(files: Readonly<Record<string, string>>): MigrationSource {
  const migrations = Object.entries(files)
    .filter(([file]) => file.endsWith('.sql'))
    .map(([file, text]) => parseMigrationFile(file, text))
    .sort((a, b) => compareRevisions(a.revision, b.revision));
  for (let i = 1; i < migrations.length; i++) {
    const [previous, current] = [migrations[i - 1]!, migrations[i]!];
    if (numericPrefix(previous.revision) === numericPrefix(current.revision)) {
      throw invalid(current.file, `its number is also used by ${previous.file}`);
    }
  }
  return migrations;
}

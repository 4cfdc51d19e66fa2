import { hash } from 'node:crypto';
import { MigrationError, MigrationErrorCode } from './errors.js';

/** One migration, as read from a file or from the archive. */
export interface Migration {
  /** The file name without `.sql`; what node-pg-migrate records as `name`. */
  readonly revision: string;
  readonly file: string;
  readonly up: string;
  /** undefined when the file has no down section: the migration is irreversible. */
  readonly down: string | undefined;
  /** The file's line where `up` starts (1-based), so statements are reported at their place in the file. */
  readonly upLine?: number;
  readonly downLine?: number;
  /** `-- schemaops: no-transaction`: PostgreSQL cannot run it inside a transaction. */
  readonly noTransaction: boolean;
  /** "sha256:<hex>" of the file's text, see checksumOf. */
  readonly checksum: string;
  /** The checksum an older schemaops archived (line endings normalised only), still accepted as no drift. */
  readonly legacyChecksum?: string;
}

/** Migrations in the order node-pg-migrate runs them. */
export type MigrationSource = readonly Migration[];

const FILE_NAME = /^(\d+)_([A-Za-z0-9][\w.-]*)\.sql$/;
const UP_MARKER = /^\s*--[\s-]*up\s+migration/im;
const DOWN_MARKER = /^\s*--[\s-]*down\s+migration/im;
const NO_TRANSACTION = /^\s*--\s*schemaops:\s*no-transaction\s*$/im;

/**
 * "sha256:<hex>" of the file's text as it means to PostgreSQL: line endings, trailing white space on each line
 * and trailing blank lines do not count (a YAML `|` block adds a final newline; an editor may strip spaces).
 */
export function checksumOf(text: string): string {
  return `sha256:${hash('sha256', canonicalText(text))}`;
}

/** The checksum archived before trailing white space was ignored: only line endings were normalised. */
export function legacyChecksumOf(text: string): string {
  return `sha256:${hash('sha256', normaliseLineEndings(text))}`;
}

function canonicalText(text: string): string {
  return normaliseLineEndings(text)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trimEnd();
}

function normaliseLineEndings(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

const TIMESTAMP_DIGITS = 17;

/**
 * The numeric prefix as node-pg-migrate orders it: 17 digits are a UTC timestamp (milliseconds), anything else
 * the number itself. A BigInt, so 20-digit numbers (yyyyMMddHHmmssSSSSSS) stay distinct.
 */
export function numericPrefix(revision: string): bigint {
  const prefix = /^\d+/.exec(revision)?.[0] ?? '0';
  if (prefix.length === TIMESTAMP_DIGITS) {
    const [y, mo, d, h, mi, s, ms] = [0, 4, 6, 8, 10, 12, 14].map((i, k, all) => prefix.slice(i, all[k + 1]));
    const time = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`).valueOf();
    if (!Number.isNaN(time)) return BigInt(time);
  }
  return BigInt(prefix);
}

/** The order node-pg-migrate sorts file names in: numeric prefix, then a numeric-aware compare. */
export function compareRevisions(a: string, b: string): number {
  const [x, y] = [numericPrefix(a), numericPrefix(b)];
  if (x !== y) return x < y ? -1 : 1;
  return a.localeCompare(b, undefined, {
    usage: 'sort',
    numeric: true,
    sensitivity: 'variant',
    ignorePunctuation: true,
  });
}

function invalid(file: string, message: string): MigrationError {
  return new MigrationError(MigrationErrorCode.InvalidMigrationFile, `${file}: ${message}`, { file });
}

const lineAt = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

function sections(
  file: string,
  text: string,
): { up: string; down: string | undefined; upLine: number; downLine: number | undefined } {
  const upAt = text.search(UP_MARKER);
  const downAt = text.search(DOWN_MARKER);
  if (upAt < 0) throw invalid(file, 'no "-- Up Migration" section');
  if (downAt >= 0 && downAt < upAt) throw invalid(file, '"-- Down Migration" comes before "-- Up Migration"');
  const up = text.slice(upAt, downAt >= 0 ? downAt : undefined);
  const down = downAt >= 0 ? text.slice(downAt) : undefined;
  return { up, down, upLine: lineAt(text, upAt), downLine: downAt >= 0 ? lineAt(text, downAt) : undefined };
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
  const { up, down, upLine, downLine } = sections(file, normalised);
  // An empty up section is a valid no-op, as in node-pg-migrate (a placeholder kept for its number).
  return {
    revision: file.slice(0, -'.sql'.length),
    file,
    up,
    down,
    upLine,
    ...(downLine === undefined ? {} : { downLine }),
    noTransaction: NO_TRANSACTION.test(normalised),
    checksum: checksumOf(normalised),
    legacyChecksum: legacyChecksumOf(normalised),
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

/**
 * One ConfigMap's files: `data` is text, `binaryData` bytes, or base64 as the API serves them (kubectl puts
 * files that are not UTF-8 there, and some tools put every file there).
 */
export interface ConfigMapFiles {
  readonly name: string;
  readonly data?: Readonly<Record<string, string>>;
  readonly binaryData?: Readonly<Record<string, string | Uint8Array>>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBinary(configMap: string, key: string, value: string | Uint8Array): string {
  try {
    return utf8.decode(typeof value === 'string' ? Buffer.from(value, 'base64') : value);
  } catch {
    throw invalid(key, `binaryData of ConfigMap ${configMap} is not UTF-8 text: save the file as UTF-8`);
  }
}

/**
 * The migration files of several ConfigMaps as one set (a set larger than one ConfigMap's 1 MiB spans several).
 * `binaryData` files are read as UTF-8; a file name found twice is refused, naming both ConfigMaps.
 */
export function filesOfConfigMaps(configMaps: readonly ConfigMapFiles[]): Record<string, string> {
  const files: Record<string, string> = {};
  const from = new Map<string, string>();
  for (const { name, data = {}, binaryData = {} } of configMaps) {
    const entries = [
      ...Object.entries(data),
      ...Object.entries(binaryData).map(([key, value]) => [key, decodeBinary(name, key, value)] as const),
    ];
    for (const [key, text] of entries) {
      if (!key.endsWith('.sql')) continue;
      const earlier = from.get(key);
      if (earlier !== undefined) {
        const where =
          earlier === name ? `twice in ConfigMap ${name}` : `in ConfigMaps ${earlier} and ${name}`;
        throw invalid(key, `found ${where}: keep one copy`);
      }
      from.set(key, name);
      files[key] = text;
    }
  }
  return files;
}

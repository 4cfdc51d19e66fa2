import { setFlagsFromString } from 'node:v8';
import { loadModule, parseSync, scanSync, SqlError, type RawStmt } from 'libpg-query';
import { unwrapNode } from './tree.js';

/** A statement PostgreSQL's parser refused, with the position in the file it came from. */
export class SqlParseError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly pgMessage: string;

  constructor(file: string, line: number, column: number, pgMessage: string) {
    super(`${file}:${line}:${column}: ${pgMessage}`);
    this.name = 'SqlParseError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.pgMessage = pgMessage;
  }
}

export interface ParsedStatement {
  readonly file: string;
  /** 0-based within the file section. */
  readonly index: number;
  /** The statement's own SQL, exactly as written, without the trailing semicolon: one query. */
  readonly text: string;
  /** 1-based line in the section where the statement starts. */
  readonly line: number;
  /** The parse tree node's type, e.g. 'CreateStmt', 'DropStmt', 'IndexStmt'. */
  readonly nodeType: string;
  /** The parse tree node itself (the value under `nodeType`). */
  readonly node: unknown;
}

let loaded: Promise<void> | undefined;

/**
 * V8 recompiles hot WebAssembly with its optimizing compiler in the background; for the parser's generated
 * grammar function (100 KB of WASM) that takes half a second and 600 MB of memory, which a short CLI run waits
 * for at exit and the operator's memory limit does not allow. The baseline compiler parses fast enough. Read
 * when a module is compiled, so set before the parser's; it also applies to WASM compiled after it.
 */
const WASM_BASELINE_ONLY = ['--no-wasm-dynamic-tiering', '--no-wasm-tier-up'];

/** Loads the WASM parser once; every later call returns the same promise (a failed load is tried again). */
export function loadSqlParser(): Promise<void> {
  if (!loaded) for (const flag of WASM_BASELINE_ONLY) setFlagsFromString(flag);
  loaded ??= loadModule().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  });
  return loaded;
}

/** Splits and parses; throws SqlParseError naming the file and position. Comments-only / empty input → []. */
export function parseStatements(sql: string, file: string): ParsedStatement[] {
  if (sql.length === 0) return [];
  const stmts = parseOrThrow(sql, file);
  if (stmts.length === 0) return [];
  const bytes = Buffer.from(sql, 'utf8');
  const lines = new LineIndex(bytes);
  return stmts.map((raw, index) => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const [nodeType, node] = unwrapNode(raw.stmt);
    const text = withoutTrailingComments(bytes.subarray(start, end).toString('utf8'));
    return { file, index, text, line: lines.lineAt(start), nodeType, node };
  });
}

function parseOrThrow(sql: string, file: string): RawStmt[] {
  try {
    return parseSync(sql).stmts ?? [];
  } catch (err) {
    if (!(err instanceof SqlError)) throw err;
    const { line, column } = positionOfCodePoint(sql, err.sqlDetails?.cursorPosition ?? 0);
    throw new SqlParseError(file, line, column, err.message);
  }
}

/**
 * The statement up to its last token: PostgreSQL's statement length runs to the semicolon, past comments.
 * Without `--` or `/*` in it there is no comment, and the scanner (the slow part) is not needed.
 */
function withoutTrailingComments(statement: string): string {
  if (!statement.includes('--') && !statement.includes('/*')) return trimSqlWhitespace(statement);
  const last = scanSync(statement).tokens.findLast(
    (t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT',
  );
  return last ? Buffer.from(statement, 'utf8').subarray(0, last.end).toString('utf8') : statement;
}

// PostgreSQL's whitespace (scan.l `space`), not JavaScript's wider idea of it.
function trimSqlWhitespace(statement: string): string {
  let end = statement.length;
  while (end > 0 && ' \t\n\r\f\v'.includes(statement.charAt(end - 1))) end--;
  return statement.slice(0, end);
}

/** How many of the ascending `values` are <= `limit`. */
function countAtMost(values: readonly number[], limit: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((values[mid] ?? 0) <= limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Byte offsets → 1-based line numbers (PostgreSQL reports statement positions in bytes). */
class LineIndex {
  private readonly newlines: number[] = [];

  constructor(bytes: Buffer) {
    for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) this.newlines.push(i);
  }

  lineAt(byteOffset: number): number {
    return 1 + countAtMost(this.newlines, byteOffset - 1);
  }
}

/** PostgreSQL's error cursor counts characters (code points), 0-based here; columns are 1-based. */
function positionOfCodePoint(sql: string, cursor: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let seen = 0;
  for (const ch of sql) {
    if (seen++ >= cursor) break;
    if (ch === '\n') {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';

/** Where the operator finds the squawk binary when it is not in node_modules (the image sets it). */
export const SQUAWK_ENV = 'SCHEMAOPS_SQUAWK';

/** One statement of the text squawk reads, and where it came from. */
export interface LintedStatement {
  readonly file: string;
  readonly line: number;
  readonly sql: string;
}

/** A unit PostgreSQL commits at once (wrapped in BEGIN/COMMIT for squawk) or statements that commit alone. */
export interface LintedSegment {
  readonly transaction: boolean;
  readonly statements: readonly LintedStatement[];
}

export interface SquawkViolation {
  readonly rule: string;
  readonly message: string;
  /** The statement squawk pointed at (undefined: a line of our own BEGIN/COMMIT). */
  readonly statement: LintedStatement | undefined;
}

export type SquawkResult =
  | { readonly ok: true; readonly violations: readonly SquawkViolation[] }
  | { readonly ok: false; readonly error: string };

/**
 * Rules about style or about settings the operator makes itself: they say nothing about whether the running
 * app is blocked or broken. Every other rule, including ones a newer squawk adds, counts.
 */
export const squawkIgnoredRules: ReadonlySet<string> = new Set([
  'prefer-robust-stmts',
  'prefer-bigint-over-int',
  'prefer-bigint-over-smallint',
  'prefer-big-int',
  'prefer-identity',
  'prefer-text-field',
  'prefer-timestamptz',
  'ban-char-field',
  // The engine sets lock_timeout and statement_timeout on the connection that runs the plan.
  'require-timeout-settings',
  'require-lock-timeout',
  'require-statement-timeout',
  // The BEGIN/COMMIT around each transaction are ours; a migration file cannot hold transaction control.
  'transaction-nesting',
]);

const SQUAWK_TIMEOUT_MS = 30_000;

/** The squawk binary: $SCHEMAOPS_SQUAWK when set, else the platform package beside squawk-cli; undefined: none. */
export function findSquawk(env: NodeJS.ProcessEnv = process.env): { path: string } | { missing: string } {
  const configured = env[SQUAWK_ENV];
  if (configured !== undefined && configured !== '') {
    return executable(configured)
      ? { path: configured }
      : { missing: `${SQUAWK_ENV}=${configured} is not executable` };
  }
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  try {
    const path = createRequire(import.meta.url).resolve(`${pkg}/bin/squawk`);
    if (executable(path)) return { path };
  } catch {
    // not installed: reported below
  }
  return { missing: `${SQUAWK_ENV} is not set and ${pkg} is not installed` };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The text squawk reads: the plan's statements in run order, each transaction inside BEGIN/COMMIT. */
export function lintText(segments: readonly LintedSegment[]): {
  text: string;
  at: (line: number) => LintedStatement | undefined;
} {
  const lines: string[] = [];
  const owner: (LintedStatement | undefined)[] = [];
  const add = (sql: string, statement: LintedStatement | undefined) => {
    for (const line of `${sql};`.split('\n')) {
      lines.push(line);
      owner.push(statement);
    }
  };
  for (const segment of segments) {
    if (segment.transaction) add('BEGIN', undefined);
    for (const statement of segment.statements) add(statement.sql, statement);
    if (segment.transaction) add('COMMIT', undefined);
  }
  return { text: `${lines.join('\n')}\n`, at: (line) => owner[line] };
}

interface SquawkJson {
  readonly line?: number;
  readonly rule_name?: string;
  readonly message?: string;
}

/** Runs squawk over the segments (SQL on stdin, JSON out; never a database URL) and keeps the rules that count. */
export async function runSquawk(binary: string, segments: readonly LintedSegment[]): Promise<SquawkResult> {
  const { text, at } = lintText(segments);
  const run = await spawnWithInput(binary, ['--reporter=json', '--stdin-filepath=plan.sql'], text);
  if ('error' in run) return { ok: false, error: run.error };
  // squawk exits 1 when it reports violations (ignored ones too) and 0 when there are none; anything else failed.
  if (run.code !== 0 && run.code !== 1)
    return { ok: false, error: `squawk exited ${run.code}: ${firstLine(run.stderr)}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    return { ok: false, error: `squawk exited ${run.code} without a JSON report: ${firstLine(run.stderr)}` };
  }
  if (!Array.isArray(parsed))
    return { ok: false, error: 'squawk printed JSON that is not a list of violations' };
  const violations = (parsed as SquawkJson[])
    .filter((v) => v.rule_name !== undefined && !squawkIgnoredRules.has(v.rule_name))
    .map((v) => ({ rule: v.rule_name ?? '', message: v.message ?? '', statement: at(v.line ?? -1) }));
  return { ok: true, violations };
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 200);
}

function spawnWithInput(
  binary: string,
  args: readonly string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string } | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // Our own timer: spawn's `timeout` is not cleared when the binary cannot be started.
    const timer = setTimeout(() => child.kill('SIGKILL'), SQUAWK_TIMEOUT_MS);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: `squawk could not run: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) return resolve({ error: `squawk was stopped by ${signal}` });
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined); // an early exit is reported by 'close'
    child.stdin.end(input);
  });
}

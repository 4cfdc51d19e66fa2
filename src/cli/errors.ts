import { MigrationError } from '../migrations/errors.js';
import { EXIT_FAILED, EXIT_USAGE } from './exit.js';
import type { Output } from './format.js';

/** A refusal of the CLI itself, with a stable CamelCase code and details for `--json`. */
export class CommandError extends Error {
  readonly code: string;
  readonly exitCode: number;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, exitCode = EXIT_FAILED) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.details = details;
    this.exitCode = exitCode;
  }
}

/** A command-line mistake: printed with the flag at fault, exit code 2. */
export class UsageError extends CommandError {
  constructor(message: string) {
    super('UsageError', message, {}, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** The one JSON object a failed command prints on stdout with `--json`. */
export function errorJson(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

function migrationErrorJson(err: MigrationError) {
  return errorJson(err.code, err.message, {
    file: err.file,
    line: err.line,
    revision: err.revision,
    halfApplied: err.halfApplied,
  });
}

/**
 * Reports a failed command: the message on stderr (for a human) and, with `--json`, one JSON object on stdout.
 * Returns the exit code; never a stack trace.
 */
export function reportError(err: unknown, out: Output): number {
  if (err instanceof CommandError) {
    out.err(`error: ${err.message}`);
    if (out.json) out.out(JSON.stringify(errorJson(err.code, err.message, { ...err.details })));
    return err.exitCode;
  }
  if (err instanceof MigrationError) {
    out.err(`error: ${err.message}`);
    if (err.revision !== undefined && !err.message.includes('the database is at'))
      out.err(`the database is at ${err.revision}`);
    if (out.json) out.out(JSON.stringify(migrationErrorJson(err)));
    return EXIT_FAILED;
  }
  const message = err instanceof Error ? err.message : String(err);
  out.err(`error: ${message}`);
  if (out.json) out.out(JSON.stringify(errorJson('Error', message)));
  return EXIT_FAILED;
}

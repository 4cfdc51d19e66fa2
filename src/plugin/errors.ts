/** Exit codes of `kubectl schemaops`. */
export const EXIT_OK = 0;
/** Refused, failed, or (for `wait`) the resource stalled. */
export const EXIT_FAILED = 1;
/** The command line was wrong; for `wait`, the timeout passed. */
export const EXIT_USAGE = 2;
export const EXIT_TIMEOUT = 2;

/** A refusal with a message for a human: printed as `error: …` on stderr, nothing else. */
export class PluginError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = EXIT_FAILED) {
    super(message);
    this.name = 'PluginError';
    this.exitCode = exitCode;
  }
}

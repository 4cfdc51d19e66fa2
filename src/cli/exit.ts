/** Exit codes of the `schemaops` CLI. */
export const EXIT_OK = 0;
/** A refused or failed run: the plan was refused, a migration failed, the database was unreachable. */
export const EXIT_FAILED = 1;
/** The command line itself was wrong: an unknown flag, a missing value, a malformed target. */
export const EXIT_USAGE = 2;

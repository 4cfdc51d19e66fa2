/** Where global setup leaves the test PostgreSQL server's address for the test files. */
export const stateFile = new URL('../../.tmp/test-postgres.json', import.meta.url);

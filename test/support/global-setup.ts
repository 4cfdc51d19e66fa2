import { startPostgres, type PostgresServer } from '../../src/localcluster/postgres.js';

declare global {
  var __schemaopsPostgres: PostgresServer | undefined;
}

/**
 * One throwaway PostgreSQL server for the whole test run; each test file makes its own database on it.
 * The test workers start after this and inherit the environment, which is how they find the server.
 */
export default async function globalSetup(): Promise<void> {
  // The kind e2e target brings its own PostgreSQL, in the cluster; this machine may have no server binaries.
  if (process.env.SCHEMAOPS_E2E_TARGET === 'kind') return;
  const server = await startPostgres();
  globalThis.__schemaopsPostgres = server;
  process.env.SCHEMAOPS_TEST_ADMIN_URL = server.url();
  process.env.SCHEMAOPS_TEST_PASSWORD = server.password;
}

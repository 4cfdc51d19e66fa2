import { mkdirSync, writeFileSync } from 'node:fs';
import { startPostgres, type PostgresServer } from '../../src/localcluster/postgres.js';
import { stateFile } from './state.js';

declare global {
  var __schemaopsPostgres: PostgresServer | undefined;
}

/** One throwaway PostgreSQL server for the whole test run; each test file makes its own database on it. */
export default async function globalSetup(): Promise<void> {
  const server = await startPostgres();
  globalThis.__schemaopsPostgres = server;
  const adminUrl = server.url();
  process.env.SCHEMAOPS_TEST_ADMIN_URL = adminUrl;
  mkdirSync(new URL('.', stateFile), { recursive: true });
  writeFileSync(stateFile, JSON.stringify({ adminUrl, password: server.password }));
}

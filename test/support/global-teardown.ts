import { rmSync } from 'node:fs';
import { stateFile } from './state.js';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__schemaopsPostgres?.stop();
  rmSync(stateFile, { force: true });
}

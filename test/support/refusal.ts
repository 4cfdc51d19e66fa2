import { MigrationError } from '../../src/migrations/errors.js';

/** The MigrationError a call throws; fails the test when it throws nothing or something else. */
export function refusal(run: () => unknown): MigrationError {
  try {
    run();
  } catch (err) {
    if (err instanceof MigrationError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** The MigrationError a promise rejects with; fails the test when it resolves or rejects with something else. */
export async function rejection(run: Promise<unknown>): Promise<MigrationError> {
  try {
    await run;
  } catch (err) {
    if (err instanceof MigrationError) return err;
    throw err;
  }
  throw new Error('expected the engine to refuse');
}

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bundle, imageEnvironment } from '../../scripts/bundle.js';
import { freshDatabase, query } from '../support/db.js';
import { migrationDir, ordersMigrations } from '../migrations/fixtures.js';

// The image runs scripts/bundle.ts's output with nothing beside it; this runs it the same way, from a
// directory without node_modules, so a dependency the bundle failed to take in would show here.
const dir = mkdtempSync(join(tmpdir(), 'schemaops-bundle-'));
const entry = join(dir, 'schemaops.mjs');
let warnings: string[] = [];

beforeAll(async () => {
  warnings = await bundle(entry);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [entry, ...args],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', ...imageEnvironment(), ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the bundle the image runs', () => {
  it('builds without warnings into one file, run with the environment of the image', () => {
    expect(warnings).toEqual([]);
    expect(imageEnvironment()).toEqual({
      NODE_ENV: 'production',
      NODE_OPTIONS: expect.stringContaining('--max-old-space-size='),
      MALLOC_ARENA_MAX: '2',
    });
    expect(statSync(entry).size).toBeGreaterThan(100_000);
  });

  it('runs the CLI: migrates a real database with node-pg-migrate and reports the revision', async () => {
    const url = await freshDatabase('bundle');
    const migrations = migrationDir(ordersMigrations);
    const env = { DATABASE_URL: url };
    expect(await run(['db', 'migrate', '--dir', migrations, '--to', 'latest'], env)).toMatchObject({
      code: 0,
    });
    expect(await run(['db', 'current'], env)).toMatchObject({ code: 0, stdout: '3_create-customers\n' });
    expect(await query(url, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: expect.any(Number) }]);
    expect(await run(['db', 'migrate', '--dir', migrations, '--to', 'base'], env)).toMatchObject({ code: 0 });
    expect(await run(['db', 'current'], env)).toMatchObject({ stdout: 'base\n' });
  });

  it('refuses a bad operator flag with exit code 2, naming it', async () => {
    const result = await run(['operator', '--resync-period', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--resync-period');
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bundle, chunkFiles, imageEnvironment } from '../../scripts/bundle.js';
import { freshDatabase, query } from '../support/db.js';
import { realWorldCorpus } from '../migrations/corpus.js';
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

/** Reports on stderr each file of the bundle that loads. */
const probe = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
registerHooks({ load(url, context, next) {
  if (url.startsWith('file:')) process.stderr.write('LOADED ' + url.split('/').pop() + '\\n');
  return next(url, context);
} });`)}`;

const loadedFiles = (stderr: string) => [...stderr.matchAll(/^LOADED (.+)$/gm)].map((m) => m[1]!);

function run(
  args: string[],
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeFlags, entry, ...args],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', ...imageEnvironment(), ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the bundle the image runs', () => {
  it('builds without warnings into an entry and its chunks, run with the environment of the image', () => {
    expect(warnings).toEqual([]);
    expect(chunkFiles(entry).length).toBeGreaterThan(1);
    expect(imageEnvironment()).toEqual({
      NODE_ENV: 'production',
      NODE_OPTIONS: expect.stringContaining('--max-old-space-size='),
      MALLOC_ARENA_MAX: '2',
      // The linter workload.scaleDown: Auto needs, copied into the image beside the bundle.
      SCHEMAOPS_SQUAWK: '/usr/local/bin/squawk',
    });
    const sizes = [entry, ...chunkFiles(entry).map((f) => join(dir, f))].map((f) => statSync(f).size);
    expect(sizes.reduce((a, b) => a + b)).toBeGreaterThan(100_000);
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
    expect(
      await run(['db', 'migrate', '--dir', migrations, '--to', 'base', '--allow-data-loss'], env),
    ).toMatchObject({ code: 0 });
    expect(await run(['db', 'current'], env)).toMatchObject({ stdout: 'base\n' });
  });

  it('loads no chunk of the Kubernetes client or the operator for db commands', async () => {
    const kubeChunks = chunkFiles(entry).filter((f) =>
      readFileSync(join(dir, f), 'utf8').includes('KubeConfig'),
    );
    expect(kubeChunks).not.toEqual([]);
    const current = await run(['db', 'current'], { DATABASE_URL: await freshDatabase('bundle') }, [
      '--import',
      probe,
    ]);
    expect(current).toMatchObject({ code: 0, stdout: 'base\n' });
    expect(loadedFiles(current.stderr)).toContain('schemaops.mjs');
    expect(loadedFiles(current.stderr).filter((f) => kubeChunks.includes(f))).toEqual([]);
    // The probe sees them when the operator's commands load (help lists every command).
    const help = await run(['--help'], {}, ['--import', probe]);
    expect(loadedFiles(help.stderr).filter((f) => kubeChunks.includes(f))).not.toEqual([]);
  });

  it('plans 300 migrations without recompiling the SQL parser with the optimizing compiler', async () => {
    // Left to V8's tiering, the parser's WASM is recompiled in the background at a cost of ~600 MB and half a
    // second that the process waits for at exit. V8 reports each compile it finishes, also during that wait.
    const migrations = migrationDir(realWorldCorpus(300));
    const env = { DATABASE_URL: await freshDatabase('bundle') };
    const args = ['db', 'plan', '--dir', migrations, '--to', 'latest'];
    const plan = await run(args, env, ['--trace-wasm-compilation-times']);
    rmSync(migrations, { recursive: true, force: true });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('apply 300 migration(s)');
    expect(plan.stdout).toMatch(/^Compiled function .* using Liftoff/m);
    expect(plan.stdout).not.toMatch(/^Compiled function .* using TurboFan/m);
  });

  it('refuses a bad operator flag with exit code 2, naming it', async () => {
    const result = await run(['operator', '--resync-period', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--resync-period');
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, query } from '../support/db.js';
import { migrationDir, ordersMigrations } from '../migrations/fixtures.js';

// `npm pack`, then `npm install -g` of the tarball into an empty prefix, as a user installs the tool: the
// installed `schemaops` command must work on Node 24, and say what it needs on an older Node.
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'schemaops-package-'));
const prefix = join(work, 'prefix');
const node24 = dirname(process.execPath);
let tarball = '';

/** The environment of a user's shell with `nodeDir`'s node first on PATH; none of the test runner's options. */
function userEnv(nodeDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${nodeDir}${delimiter}${process.env.PATH ?? ''}` };
  delete env.NODE_OPTIONS;
  for (const name of Object.keys(env)) if (name.startsWith('npm_')) delete env[name];
  return {
    ...env,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    ...extra,
  };
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, env: userEnv(node24), encoding: 'utf8', timeout: 240_000 });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the installed command through its bin link, as a shell would (the `node` on PATH runs it). */
function schemaops(args: string[], env: NodeJS.ProcessEnv = userEnv(node24)): Promise<Run> {
  return new Promise((resolve) => {
    execFile(join(prefix, 'bin', 'schemaops'), args, { cwd: work, env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A Node.js older than 24 on this machine (Debian's, which runs npm here), if there is one. */
function olderNode(): string | undefined {
  const candidates = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']
    .map((dir) => join(dir, 'node'))
    .filter((file) => existsSync(file));
  return candidates.find((file) => {
    const version = execFileSync(file, ['--version'], { encoding: 'utf8' }).trim();
    return Number(/^v(\d+)/.exec(version)?.[1]) < 24;
  });
}

beforeAll(() => {
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], root)) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(work, packed[0]!.filename);
  npm(['install', '--global', '--prefix', prefix, '--prefer-offline', tarball], work);
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the npm package', () => {
  it('ships the bundle and its bin, and no sources', () => {
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(listing).toContain('package/dist/schemaops.mjs');
    expect(listing).toContain('package/dist/libpg-query.wasm');
    expect(listing.filter((f) => f.startsWith('package/src/') || f.endsWith('.ts'))).toEqual([]);
    const installed = join(prefix, 'lib', 'node_modules', 'schemaops');
    expect(realpathSync(join(prefix, 'bin', 'schemaops'))).toBe(join(installed, 'dist', 'schemaops.mjs'));
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { bin: object };
    expect(Object.values(pkg.bin).every((bin: string) => existsSync(join(installed, bin)))).toBe(true);
    // Installed without devDependencies: neither the bundler nor the test runner is there.
    const modules = readdirSync(join(installed, 'node_modules'));
    expect(modules).not.toContain('esbuild');
    expect(modules).not.toContain('jest');
  });

  it('installs a schemaops command that runs on Node 24 against a real database', async () => {
    // The version the CLI reports is the package's.
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(await schemaops(['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(
      execFileSync(join(prefix, 'bin', 'kubectl-schemaops'), ['--help'], {
        env: userEnv(node24),
        encoding: 'utf8',
      }),
    ).toContain('Usage: kubectl schemaops [options] [command]');
    const url = await freshDatabase('package');
    const env = userEnv(node24, { DATABASE_URL: url });
    const dir = migrationDir(ordersMigrations);
    expect(await schemaops(['db', 'current'], env)).toMatchObject({ code: 0, stdout: 'base\n' });
    const plan = await schemaops(['db', 'plan', '--dir', dir, '--to', 'latest', '--sql'], env);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('-- 1_create-orders.sql:2\nCREATE TABLE orders');
    expect((await schemaops(['db', 'migrate', '--dir', dir, '--to', 'latest'], env)).code).toBe(0);
    expect(await schemaops(['db', 'current', '--json'], env)).toMatchObject({
      code: 0,
      stdout: '{"revision":"3_create-customers"}\n',
    });
    expect(await query(url, 'SELECT name FROM customers ORDER BY id')).toEqual([
      { name: 'ada' },
      { name: 'grace' },
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('says on an older Node.js that it needs Node 24, in one line, and exits 1', async () => {
    const old = olderNode();
    // Without an older Node here, Node 24 made to report v20.0.0 runs the same launcher.
    const pretend = `data:text/javascript,${encodeURIComponent(
      "Object.defineProperty(process, 'version', { value: 'v20.0.0' });" +
        "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.0.0' } });",
    )}`;
    const env = old ? userEnv(dirname(old)) : userEnv(node24, { NODE_OPTIONS: `--import=${pretend}` });
    const version = old ? execFileSync(old, ['--version'], { encoding: 'utf8' }).trim() : 'v20.0.0';
    for (const args of [['--version'], ['db', 'current'], ['operator']]) {
      const run = await schemaops(args, env);
      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `schemaops needs Node.js 24 or newer; this is ${version}\n`,
      });
    }
  });
});

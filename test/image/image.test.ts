import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { SQUAWK_ENV } from '../../src/sql/squawk.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(dockerfile: string): { op: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/**
 * .dockerignore as a predicate over context paths: a star within one segment, two stars and a slash
 * across directories, a leading `!` lets a path back in, and the last matching pattern decides.
 */
function ignored(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const body = line
        .slice(negated ? 1 : 0)
        .replace(/^\/+/, '')
        .replace(/[.+^${}()|[\]]/g, '\\$&')
        .replace(/\*\*\//g, '(.*/)?')
        .replace(/\*/g, '[^/]*');
      return { negated, pattern: new RegExp(`^${body}(/.*)?$`) };
    });
  return (path) =>
    patterns.reduce((out, { negated, pattern }) => (pattern.test(path) ? !negated : out), false);
}

describe('the container image build', () => {
  const steps = instructions(read('Dockerfile'));
  const isIgnored = ignored(read('.dockerignore'));

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources = steps
      .filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))
      .flatMap((s) => s.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) {
      expect({ source, exists: existsSync(join(root, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: isIgnored(source) }).toEqual({ source, ignored: false });
    }
    // What must stay out of the context does: tests, dependencies, the Git directory.
    for (const path of [
      'node_modules/pg/package.json',
      '.git/HEAD',
      'test/e2e/operator.test.ts',
      'scripts/setup.sh',
    ]) {
      expect({ path, ignored: isIgnored(path) }).toEqual({ path, ignored: true });
    }
  });

  it('runs the bundle on Node 24 as an unprivileged numeric user, with nothing else from the build', () => {
    const bases = steps.filter((s) => s.op === 'FROM').map((s) => s.args.split(/\s+/)[0]);
    expect(bases.length).toBeGreaterThan(1);
    for (const base of bases) expect(base).toMatch(/^node:24[-.\w]*$/);
    const users = steps.filter((s) => s.op === 'USER').map((s) => s.args);
    expect(users.at(-1)).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(steps.find((s) => s.op === 'ENTRYPOINT')?.args).toBe('["node", "schemaops.mjs"]');
    const runtime = steps.slice(steps.map((s) => s.op).lastIndexOf('FROM'));
    const fromBuild = runtime.filter((s) => s.op === 'COPY' && s.args.startsWith('--from'));
    // The bundle's output directory, which holds nothing else: the entry, its chunks and the parser's WASM;
    // and the squawk binary.
    expect(fromBuild.map((s) => s.args)).toEqual([
      '--from=build /src/out/ ./',
      '--from=build /src/squawk/squawk /usr/local/bin/squawk',
    ]);
    const build = steps.find((s) => s.op === 'RUN' && s.args.includes('scripts/bundle.ts'));
    expect(build?.args).toBe('node scripts/bundle.ts /src/out/schemaops.mjs');
    expect(steps.some((s) => s.op === 'RUN' && /^npm ci\b/.test(s.args))).toBe(true);
  });

  it('ships the squawk binary of the build platform where the operator looks for it', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
    // Pinned exactly: the lint rules decide whether a plan runs with the app up.
    expect(pkg.dependencies['squawk-cli']).toMatch(/^\d+\.\d+\.\d+$/);
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };
    const platforms = Object.keys(lock.packages['node_modules/squawk-cli']?.optionalDependencies ?? {});
    expect(platforms).toEqual(expect.arrayContaining(['@squawk-cli/linux-x64', '@squawk-cli/linux-arm64']));
    for (const name of platforms) {
      expect({ name, version: lock.packages[`node_modules/${name}`]?.version }).toEqual({
        name,
        version: pkg.dependencies['squawk-cli'],
      });
    }
    const build = steps.slice(0, steps.map((s) => s.op).lastIndexOf('FROM'));
    const copy = build.find((s) => s.op === 'RUN' && s.args.includes('@squawk-cli/'));
    expect(copy?.args).toContain(
      'node_modules/@squawk-cli/$(node -p \'process.platform + "-" + process.arch\')/bin/squawk',
    );
    expect(copy?.args).toContain('/src/squawk/squawk');
    const runtime = steps.slice(steps.map((s) => s.op).lastIndexOf('FROM'));
    const env = runtime.filter((s) => s.op === 'ENV').map((s) => s.args);
    expect(env).toContain(`${SQUAWK_ENV}=/usr/local/bin/squawk`);
  });

  it('has a lock file that lists every optional dependency its packages declare, so `npm ci` accepts it', () => {
    // npm refuses a lock file without the platform bindings of another OS or CPU ("Missing: … from lock
    // file"), which fails the image build's `npm ci` even when the machine that wrote the lock is fine.
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };
    const locked = new Set(
      Object.keys(lock.packages).map((key) => key.slice(key.lastIndexOf('node_modules/') + 13)),
    );
    const missing = Object.entries(lock.packages).flatMap(([key, entry]) =>
      Object.keys(entry.optionalDependencies ?? {})
        .filter((name) => !locked.has(name))
        .map((name) => `${name} (optional for ${key})`),
    );
    expect(missing).toEqual([]);
  });
});

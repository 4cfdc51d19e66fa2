// Bundles the CLI (src/main.ts) and every dependency into ES modules: dist/schemaops.mjs and the chunks it
// imports beside it (schemaops-*.mjs), what the container image runs and what `npm pack` ships (package.json
// "files" and "bin"; its prepack script runs this). Minified bundles load far less code than node_modules (the
// Kubernetes client alone ships 25 MB of generated JavaScript), which keeps the operator's memory low; split at
// the dynamic imports, the entry only checks the Node.js version (it runs on any Node), and `schemaops db …`
// loads only its own chunks and none of the operator's, and starts in a fraction of the time.
// Usage: node scripts/bundle.ts [OUTFILE] (Node 24 runs TypeScript as is); or import { bundle }.
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTFILE = join(root, 'dist', 'schemaops.mjs');

/**
 * The commands the package installs, by name (each a package.json "bin" entry, `dist/<name>.mjs`), and the
 * source each is bundled from. The first is the main entry: it takes the name of the OUTFILE given.
 */
export const ENTRIES: readonly { readonly name: string; readonly source: string }[] = [
  { name: 'schemaops', source: 'src/main.ts' },
  { name: 'kubectl-schemaops', source: 'src/plugin/main.ts' },
];

/** The chunks an entry file imports: `<entry name>-<hash>.mjs` beside it. */
export function chunkFiles(outfile: string): string[] {
  const prefix = `${basename(outfile, extname(outfile))}-`;
  return readdirSync(dirname(outfile)).filter((name) => name.startsWith(prefix) && name.endsWith('.mjs'));
}

/**
 * Writes the main entry to `outfile`, the other entries, the chunks and libpg-query's WASM beside it, and
 * resolves with esbuild's warnings (as text). Chunks of an earlier bundle to the same place are removed first.
 */
export async function bundle(outfile: string = DEFAULT_OUTFILE): Promise<string[]> {
  const outdir = dirname(outfile);
  const name = basename(outfile, extname(outfile));
  if (existsSync(outdir)) for (const stale of chunkFiles(outfile)) rmSync(join(outdir, stale));
  const result = await build({
    entryPoints: Object.fromEntries(
      ENTRIES.map((entry, i) => [i === 0 ? name : entry.name, join(root, entry.source)]),
    ),
    outdir,
    outExtension: { '.js': extname(outfile) || '.mjs' },
    splitting: true,
    chunkNames: `${name}-[hash]`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    // Whitespace and syntax only: stack traces in the logs keep their function names.
    minifyWhitespace: true,
    minifySyntax: true,
    // Optional native add-ons that the packages probe for and do without.
    external: ['pg-native', 'bufferutil', 'utf-8-validate'],
    // CommonJS dependencies call require() for Node's built-ins; an ES module has none of its own.
    // libpg-query's WASM loader finds libpg-query.wasm beside itself through __dirname, copied there below.
    banner: {
      js:
        "import { createRequire as __schemaopsRequire } from 'node:module'; const require = __schemaopsRequire(import.meta.url); " +
        "import { dirname as __schemaopsDirname } from 'node:path'; import { fileURLToPath as __schemaopsPath } from 'node:url'; " +
        'const __filename = __schemaopsPath(import.meta.url); const __dirname = __schemaopsDirname(__filename);',
    },
    logLevel: 'silent',
  });
  copyFileSync(
    join(root, 'node_modules', 'libpg-query', 'wasm', 'libpg-query.wasm'),
    join(outdir, 'libpg-query.wasm'),
  );
  return result.warnings.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`);
}

/**
 * The environment the image's last stage sets (its `ENV` lines: heap limits, malloc arenas), for running
 * the bundle here as the image does.
 */
export function imageEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const lastStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const [, name = '', value = ''] of lastStage.matchAll(/^ENV (\w+)=("[^"]*"|\S+)$/gm)) {
    env[name] = value.replace(/^"|"$/g, '');
  }
  return env;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outfile = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUTFILE;
  const warnings = await bundle(outfile);
  for (const warning of warnings) console.error(`warning: ${warning}`);
  console.error(`wrote ${outfile}`);
}

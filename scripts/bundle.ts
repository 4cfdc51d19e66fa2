// Bundles the CLI (src/main.ts) and every dependency into one ES module, dist/schemaops.mjs: what the
// container image runs. One minified file loads far less code than node_modules (the Kubernetes client
// alone ships 25 MB of generated JavaScript), which keeps the operator's memory low.
// Usage: node scripts/bundle.ts [OUTFILE] (Node 24 runs TypeScript as is); or import { bundle }.
import { copyFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTFILE = join(root, 'dist', 'schemaops.mjs');

/** Writes the bundle to `outfile` and resolves with esbuild's warnings (as text). */
export async function bundle(outfile: string = DEFAULT_OUTFILE): Promise<string[]> {
  const result = await build({
    entryPoints: [join(root, 'src', 'main.ts')],
    outfile,
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
    join(dirname(outfile), 'libpg-query.wasm'),
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

// Runs every benchmark in bench/ (each *.ts file but this one), one after the other, each in its own
// Node process, and exits non-zero when any of them failed.
//
//   node --import ./scripts/register-ts.js bench/run.ts [name ...]
//
// Names (a file name with or without .ts) pick some of the benchmarks; none runs them all.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const BENCH_DIR = import.meta.dirname;
const ROOT = dirname(BENCH_DIR);
const REGISTER = pathToFileURL(join(ROOT, 'scripts', 'register-ts.js')).href;
const SELF = basename(import.meta.filename);

async function discover(names: readonly string[]): Promise<string[]> {
  const all = (await readdir(BENCH_DIR))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== SELF)
    .sort();
  if (names.length === 0) return all;
  const wanted = names.map((n) => (n.endsWith('.ts') ? n : `${n}.ts`));
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length > 0) {
    throw new Error(`no benchmark named ${unknown.join(', ')} in bench/ (there are: ${all.join(', ')})`);
  }
  return all.filter((f) => wanted.includes(f));
}

function runOne(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', REGISTER, join(BENCH_DIR, file)], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const files = await discover(process.argv.slice(2));
  const results: { file: string; code: number; seconds: number }[] = [];
  for (const file of files) {
    console.log(`\n=== bench/${file} ===`);
    const start = performance.now();
    const code = await runOne(file);
    results.push({ file, code, seconds: (performance.now() - start) / 1000 });
  }
  console.log('\n=== summary ===');
  for (const { file, code, seconds } of results) {
    console.log(
      `  bench/${file.padEnd(24)} ${code === 0 ? 'ok    ' : `FAILED (exit ${code})`} ${seconds.toFixed(1)} s`,
    );
  }
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`bench/run failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}

// Applies the same generated real-shaped migrations through `schemaops db migrate` (the bundled CLI, a
// child process per run, start-up included) and through node-pg-migrate's own CLI (`up
// --single-transaction`), on one throwaway PostgreSQL server, and prints median wall times and two
// ratios: migrate vs node-pg-migrate (target 1.0x) and `db current` vs node-pg-migrate doing nothing
// (target 2.0x).
//
//   node --import ./scripts/register-ts.js bench/migrations.ts [--rounds N] [--warmup N] [--sizes 300]
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { bundle } from '../scripts/bundle.js';
import { startPostgres, type PostgresServer } from '../src/localcluster/postgres.js';
import { realWorldCorpus } from '../test/migrations/corpus.js';

/** Applying: no slower than node-pg-migrate. `db current`: within 2x of node-pg-migrate doing nothing. */
const TARGET_RATIO = 1.0;
const CURRENT_TARGET_RATIO = 2.0;
const ROOT = dirname(import.meta.dirname);
const BIN_DIR = join(ROOT, 'node_modules', '.bin');
const CLI = join(BIN_DIR, 'node-pg-migrate');

interface Options {
  readonly rounds: number;
  /** Untimed rounds first, so the engine's numbers are those of a process that has run before. */
  readonly warmup: number;
  readonly sizes: readonly number[];
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, got "${text}"`);
  return value;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      sizes: { type: 'string', default: '300' },
    },
    strict: true,
  });
  return {
    rounds: positiveInt('rounds', values.rounds),
    warmup: values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup),
    sizes: values.sizes.split(',').map((s) => positiveInt('sizes', s.trim())),
  };
}

/** The generated real-world corpus, in the variant node-pg-migrate can run in one transaction too. */
async function writeMigrations(dir: string, count: number): Promise<void> {
  for (const [name, text] of Object.entries(realWorldCorpus(count, { oneTransaction: true })))
    await writeFile(join(dir, name), text);
}

async function appliedCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM public.pgmigrations');
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

async function timed(work: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Where the bundled CLI is written at start: what the container image runs. */
let schemaopsBundle = '';

/** Runs `schemaops db migrate` from the bundle, a whole process as a user runs it. */
function runEngine(url: string, dir: string): Promise<void> {
  return runProcess(
    process.execPath,
    [schemaopsBundle, 'db', 'migrate', '--dir', dir, '--to', 'latest'],
    url,
  );
}

/** Runs `schemaops db current`: start-up, connect, one read. */
function runCurrent(url: string): Promise<void> {
  return runProcess(process.execPath, [schemaopsBundle, 'db', 'current'], url);
}

/** Runs `node-pg-migrate up` as a user would; rejects with the tail of its output when it fails. */
function runCli(url: string, dir: string): Promise<void> {
  const args = ['up', '--migrations-dir', dir, '--migration-file-language', 'sql', '--single-transaction'];
  return runProcess(CLI, args, url);
}

function runProcess(command: string, args: string[], url: string): Promise<void> {
  const env = { ...process.env, DATABASE_URL: url, PATH: `${BIN_DIR}:${process.env.PATH ?? ''}` };
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} exited with ${code ?? signal}:\n${output}`));
    });
  });
}

/** Wall time of a bare Node process, for scale: what any CLI pays before its own code loads. */
function runBareNode(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`node exited with ${code}`))));
  });
}

async function expectApplied(side: string, url: string, expected: number): Promise<void> {
  const applied = await appliedCount(url);
  if (applied !== expected)
    throw new Error(`${side}: expected ${expected} applied migrations, found ${applied}`);
}

interface Round {
  engine: number;
  cli: number;
  /** The CLI on a fresh database with an empty migrations directory: process start-up, connect, table. */
  cliEmpty: number;
  /** Both again on their migrated databases, nothing pending: what a reconcile with no change costs. */
  engineNoop: number;
  cliNoop: number;
  bareNode: number;
  /** `schemaops db current` on the migrated database. */
  current: number;
}

interface SizeContext {
  readonly server: PostgresServer;
  readonly size: number;
  readonly dir: string;
  readonly emptyDir: string;
}

async function engineSide(ctx: SizeContext, round: Round): Promise<void> {
  const url = await ctx.server.createDatabase('bench_engine');
  round.engine = await timed(() => runEngine(url, ctx.dir));
  await expectApplied('engine', url, ctx.size);
  round.engineNoop = await timed(() => runEngine(url, ctx.dir));
  await expectApplied('engine (no-op)', url, ctx.size);
  round.current = await timed(() => runCurrent(url));
}

async function cliSide(ctx: SizeContext, round: Round): Promise<void> {
  const url = await ctx.server.createDatabase('bench_cli');
  round.cli = await timed(() => runCli(url, ctx.dir));
  await expectApplied('cli', url, ctx.size);
  round.cliNoop = await timed(() => runCli(url, ctx.dir));
  await expectApplied('cli (no-op)', url, ctx.size);
  const emptyUrl = await ctx.server.createDatabase('bench_cli_empty');
  round.cliEmpty = await timed(() => runCli(emptyUrl, ctx.emptyDir));
  await expectApplied('cli (empty)', emptyUrl, 0);
  round.bareNode = await timed(runBareNode);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const ms = (value: number): string => `${value.toFixed(0).padStart(6)} ms`;
const ratio = (value: number): string => `${value.toFixed(2)}x`;
const verdict = (value: number, target = TARGET_RATIO): string =>
  value <= target ? `meets the ${target.toFixed(1)}x target` : `MISSES the ${target.toFixed(1)}x target`;

function report(size: number, rounds: readonly Round[]): void {
  const m = (pick: (r: Round) => number) => median(rounds.map(pick));
  const [engine, cli, cliEmpty] = [m((r) => r.engine), m((r) => r.cli), m((r) => r.cliEmpty)];
  const cliWork = cli - cliEmpty;
  console.log(`\n${size} migrations, median of ${rounds.length} round(s):`);
  console.log(`  schemaops db migrate           ${ms(engine)}`);
  console.log(`  CLI (whole process)            ${ms(cli)}`);
  console.log(
    `  CLI empty run (start-up)       ${ms(cliEmpty)}   bare node: ${ms(m((r) => r.bareNode)).trim()}`,
  );
  console.log(`  CLI minus start-up             ${ms(cliWork)}`);
  console.log(
    `  engine/CLI including start-up  ${ratio(engine / cli).padStart(9)}   ${verdict(engine / cli)}`,
  );
  console.log(
    `  engine/CLI excluding start-up  ${ratio(engine / cliWork).padStart(9)}   (CLI start-up subtracted, ours kept)`,
  );
  const current = m((r) => r.current);
  console.log(
    `  db current/CLI empty run       ${ratio(current / cliEmpty).padStart(9)}   ${verdict(current / cliEmpty, CURRENT_TARGET_RATIO)} (${ms(current).trim()})`,
  );
  const [engineNoop, cliNoop] = [m((r) => r.engineNoop), m((r) => r.cliNoop)];
  console.log(`  nothing pending: engine ${ms(engineNoop).trim()}, CLI ${ms(cliNoop).trim()}`);
}

function newRound(): Round {
  return { engine: 0, cli: 0, cliEmpty: 0, engineNoop: 0, cliNoop: 0, bareNode: 0, current: 0 };
}

async function benchSize(server: PostgresServer, size: number, options: Options): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'schemaops-bench-'));
  const emptyDir = await mkdtemp(join(tmpdir(), 'schemaops-bench-empty-'));
  try {
    await writeMigrations(dir, size);
    const ctx: SizeContext = { server, size, dir, emptyDir };
    for (let i = 0; i < options.warmup; i++) {
      await engineSide(ctx, newRound());
      await cliSide(ctx, newRound());
    }
    const results: Round[] = [];
    for (let i = 0; i < options.rounds; i++) {
      const round = newRound();
      const engineFirst = i % 2 === 0;
      for (const side of engineFirst ? [engineSide, cliSide] : [cliSide, engineSide]) await side(ctx, round);
      results.push(round);
      console.log(
        `  ${size} migrations, round ${i + 1} (${engineFirst ? 'engine first' : 'CLI first'}): ` +
          `engine ${ms(round.engine).trim()}, CLI ${ms(round.cli).trim()}, CLI empty run ${ms(round.cliEmpty).trim()}`,
      );
    }
    report(size, results);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(emptyDir, { recursive: true, force: true });
  }
}

async function serverVersion(server: PostgresServer): Promise<string> {
  const client = new pg.Client({ connectionString: server.url() });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0]?.v ?? '?';
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const bundleDir = await mkdtemp(join(tmpdir(), 'schemaops-bench-bundle-'));
  schemaopsBundle = join(bundleDir, 'schemaops.mjs');
  await bundle(schemaopsBundle);
  const server = await startPostgres();
  const stopOnSignal = (signal: NodeJS.Signals) => {
    void server.stop().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    console.log(
      `bench/migrations: schemaops CLI vs node-pg-migrate CLI, PostgreSQL ${await serverVersion(server)}, ` +
        `Node ${process.version}, ` +
        `${options.rounds} round(s) after ${options.warmup} warm-up, sizes ${options.sizes.join(', ')}`,
    );
    for (const size of options.sizes) await benchSize(server, size, options);
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await server.stop();
    await rm(bundleDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  console.error(
    `bench/migrations failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  process.exitCode = 1;
}

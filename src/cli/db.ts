import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseDuration } from '../duration.js';
import {
  currentRevision,
  executePlan,
  planToTarget,
  stampTarget,
  type EngineOptions,
  type MigrateResult,
} from '../migrations/engine.js';
import { MigrationError, MigrationErrorCode } from '../migrations/errors.js';
import { describePlanChange, lossesOf, type Plan } from '../migrations/planner.js';
import { parseMigrationSource, type MigrationSource } from '../migrations/source.js';
import { TargetSyntaxError, type Target } from '../migrations/target.js';
import { redact, secretsOf } from '../redact.js';
import { describeDataLoss } from '../sql/index.js';
import { CommandError, reportError, UsageError } from './errors.js';
import { formatHistory, formatMigrateResult, formatPlan, formatShow, type Output } from './format.js';
import { knownRevisions, migrationView, migrationViews, readState } from './inspect.js';
import { parseTargetArg, resolveRevision, resolveTarget, type TargetArg } from './revisions.js';

interface DbOptions {
  databaseUrl?: string;
  migrationsTable: string;
  schema: string;
  json: boolean;
  waitForLock?: boolean;
  lockTimeout?: number;
  statementTimeout?: number;
}

function durationArg(flag: string) {
  return (value: string): number => {
    try {
      return parseDuration(value);
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
    }
  };
}

function targetArg(value: string): TargetArg {
  try {
    return parseTargetArg(value);
  } catch (err) {
    if (err instanceof TargetSyntaxError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/**
 * Reads a migrations directory into the shape of a ConfigMap's data: file name → content. Synchronously: for
 * hundreds of small files that is ten times faster than promises through the thread pool, and nothing else
 * is waiting.
 */
export function readMigrationDir(dir: string): Record<string, string> {
  const info = statSync(dir, { throwIfNoEntry: false });
  if (!info?.isDirectory()) throw new UsageError(`--dir ${dir}: no such directory`);
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  return Object.fromEntries(names.map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}

function engineOptions(opts: DbOptions): EngineOptions {
  const databaseUrl = opts.databaseUrl ?? process.env.DATABASE_URL;
  if (!databaseUrl) throw new UsageError('no database: set DATABASE_URL or pass --database-url');
  return {
    databaseUrl,
    migrationsTable: opts.migrationsTable,
    schema: opts.schema,
    ...(opts.waitForLock ? { waitForLock: true } : {}),
    ...(opts.lockTimeout === undefined ? {} : { lockTimeoutMs: opts.lockTimeout }),
    ...(opts.statementTimeout === undefined ? {} : { statementTimeoutMs: opts.statementTimeout }),
  };
}

function output(opts: DbOptions): Output {
  const secrets = secretsOf(opts.databaseUrl ?? process.env.DATABASE_URL);
  return {
    json: opts.json,
    out: (text) => process.stdout.write(`${redact(text, secrets)}\n`),
    err: (text) => process.stderr.write(`${redact(text, secrets)}\n`),
  };
}

/** Runs one subcommand: every failure becomes a message on stderr and an exit code, never a stack trace. */
function action<A extends unknown[]>(run: (opts: DbOptions, out: Output, ...args: A) => Promise<void>) {
  return async function (this: Command, ...args: A): Promise<void> {
    const opts = this.optsWithGlobals<DbOptions>();
    const out = output(opts);
    try {
      await run(opts, out, ...args);
    } catch (err) {
      process.exitCode = reportError(err, out);
    }
  };
}

interface TargetOpts {
  dir: string;
  to: TargetArg;
  sql?: boolean;
  dryRun?: boolean;
  expectHash?: string;
  allowDataLoss?: boolean;
}

function readSource(dir: string): MigrationSource {
  return parseMigrationSource(readMigrationDir(dir));
}

/**
 * The target with a revision argument resolved: exactly a file's revision as it is, otherwise (a prefix, or a
 * migration whose file is gone) against the files and the database.
 */
async function resolveTargetArg(
  engine: EngineOptions,
  source: MigrationSource,
  to: TargetArg,
): Promise<Target> {
  if (to.kind !== 'prefix') return to;
  if (source.some((m) => m.revision === to.prefix)) return { kind: 'revision', revision: to.prefix };
  return resolveTarget(to, knownRevisions(source, await readState(engine)));
}

/** With --expect-hash, the plan must be the one reviewed; otherwise nothing runs. */
function checkExpectedHash(plan: Plan, expectHash: string | undefined): void {
  if (expectHash !== undefined && plan.hash !== expectHash)
    throw new MigrationError(MigrationErrorCode.PlanChanged, describePlanChange({ hash: expectHash }, plan));
}

/** As the operator does without spec.policy.allowDataLoss: a plan that can lose data does not run. */
function refuseDataLoss(plan: Plan, allowDataLoss: boolean): void {
  if (!plan.destructive || allowDataLoss) return;
  const losses = lossesOf(plan);
  throw new CommandError(
    'DataLossNotAllowed',
    `the plan can lose data; pass --allow-data-loss to run it; nothing ran:\n` +
      describeDataLoss(losses, plan.dataLoss.notAnalysable),
    { losses: losses.slice(0, 20), notAnalysable: plan.dataLoss.notAnalysable.slice(0, 20), hash: plan.hash },
  );
}

/** Plans moved by another run while this one waited: planned again, judged again, this many times at most. */
const MAX_ATTEMPTS = 3;

/**
 * Plans, refuses a plan that can lose data unless allowed, and executes that plan: the engine runs it only if
 * the plan found under the lock has the same hash. Without --expect-hash, a plan that changed meanwhile (another
 * run moved the database) is planned and judged again.
 */
async function migrate(engine: EngineOptions, source: MigrationSource, target: Target, opts: TargetOpts) {
  for (let attempt = 1; ; attempt++) {
    const plan = await planToTarget(engine, source, target);
    checkExpectedHash(plan, opts.expectHash);
    if (opts.dryRun) return { plan, revision: plan.from, dryRun: true } satisfies MigrateResult;
    refuseDataLoss(plan, opts.allowDataLoss ?? false);
    try {
      return await executePlan(engine, plan);
    } catch (err) {
      const changed = err instanceof MigrationError && err.code === MigrationErrorCode.PlanChanged;
      if (!changed || opts.expectHash !== undefined || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

export function registerDbCommand(program: Command): void {
  const db = program
    .command('db')
    .description('Inspect and migrate a database directly, without Kubernetes')
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL); never printed'))
    .option('--migrations-table <name>', "node-pg-migrate's table of applied migrations", 'pgmigrations')
    .option('--schema <name>', 'schema of the migrations table', 'public')
    .option('--json', 'machine-readable output; with it, errors too are one JSON object on stdout', false);

  db.command('current')
    .description('print the current revision (base when none is applied)')
    .action(
      action(async (opts, out) => {
        const revision = await currentRevision(engineOptions(opts));
        out.out(out.json ? JSON.stringify({ revision }) : revision);
      }),
    );

  db.command('history')
    .description('list applied migrations oldest first, the current one marked *, then the pending ones')
    .option('--dir <dir>', 'directory of migration files, to list the pending ones')
    .action(
      action(async (opts, out, cmdOpts: { dir?: string }) => {
        const source = cmdOpts.dir === undefined ? [] : readSource(cmdOpts.dir);
        const state = await readState(engineOptions(opts));
        formatHistory(out, migrationViews(source, state), {
          current: state.applied.at(-1)?.revision ?? 'base',
          filesGiven: cmdOpts.dir !== undefined,
        });
      }),
    );

  db.command('show')
    .description('print one migration: status, applied time, checksum, up and down SQL')
    .argument('<revision>', 'a revision, or the start of one (its number is enough)')
    .option('--dir <dir>', 'directory of migration files (otherwise the SQL comes from the archive)')
    .action(
      action(async (opts, out, typed: string, cmdOpts: { dir?: string }) => {
        const source = cmdOpts.dir === undefined ? [] : readSource(cmdOpts.dir);
        const state = await readState(engineOptions(opts));
        const revision = resolveRevision(typed, knownRevisions(source, state));
        formatShow(out, migrationView(revision, source, state));
      }),
    );

  const withTarget = (cmd: Command) =>
    cmd
      .requiredOption('--dir <dir>', 'directory of migration files (<number>_<name>.sql)')
      .requiredOption('--to <target>', 'latest, base, a revision (or the start of one), +N or -N', targetArg);

  withTarget(
    db.command('plan').description('print the plan to reach the target and its hash; changes nothing'),
  )
    .option('--sql', 'also print the SQL it runs, statement by statement, under file:line headers', false)
    .action(
      action(async (opts, out, cmdOpts: TargetOpts) => {
        const engine = engineOptions(opts);
        const source = readSource(cmdOpts.dir);
        const plan = await planToTarget(engine, source, await resolveTargetArg(engine, source, cmdOpts.to));
        formatPlan(out, plan, { sql: cmdOpts.sql ?? false });
      }),
    );

  withTarget(db.command('migrate').description('migrate up or roll back to the target'))
    .option('--dry-run', 'print the plan, change nothing', false)
    .option(
      '--expect-hash <hash>',
      'run only the plan with this hash (as printed by db plan); otherwise refuse (PlanChanged) and run nothing',
    )
    .option(
      '--allow-data-loss',
      'run a plan that can lose data (otherwise refused, naming what is at stake)',
      false,
    )
    .option(
      '--wait-for-lock',
      'wait for a running migration (up to --lock-timeout) instead of failing at once',
      false,
    )
    .option('--lock-timeout <duration>', 'PostgreSQL lock_timeout, e.g. 2s', durationArg('--lock-timeout'))
    .option(
      '--statement-timeout <duration>',
      'PostgreSQL statement_timeout, e.g. 10m',
      durationArg('--statement-timeout'),
    )
    .action(
      action(async (opts, out, cmdOpts: TargetOpts) => {
        const engine = engineOptions(opts);
        const source = readSource(cmdOpts.dir);
        const target = await resolveTargetArg(engine, source, cmdOpts.to);
        formatMigrateResult(out, await migrate(engine, source, target, cmdOpts));
      }),
    );

  withTarget(db.command('stamp').description('record the target as current without running any SQL')).action(
    action(async (opts, out, cmdOpts: TargetOpts) => {
      const engine = engineOptions(opts);
      const source = readSource(cmdOpts.dir);
      const target = await resolveTargetArg(engine, source, cmdOpts.to);
      formatMigrateResult(out, await stampTarget(engine, source, target), 'stamped');
    }),
  );
}

import { createHash } from 'node:crypto';
import {
  findLossCandidates,
  parseStatements,
  SqlParseError,
  transactionNeed,
  type DataLoss,
  type LossCandidate,
  type NotAnalysable,
  type ParsedStatement,
  type TransactionNeed,
} from '../sql/index.js';
import { MigrationError, MigrationErrorCode } from './errors.js';
import { compareRevisions, numericPrefix, type Migration, type MigrationSource } from './source.js';
import type { DatabaseState } from './state.js';
import { describeTarget, type Target } from './target.js';

export type Direction = 'up' | 'down';

/** The revision of an empty schema history. */
export const BASE = 'base';

/** One step of a plan, with the SQL that will run for its direction, read statement by statement. */
export interface PlannedMigration extends Migration {
  readonly sql: string;
  /** `archive` when the file is gone from the source and the archived copy is used (a rollback after a Git revert). */
  readonly origin: 'source' | 'archive';
  /** `sql` as PostgreSQL's parser splits it; each statement's line is its line in the file. */
  readonly statements: readonly ParsedStatement[];
}

/** What a segment runs: one statement of a migration, or the row that records the migration as applied/reverted. */
export type PlanStep =
  | {
      readonly kind: 'statement';
      readonly revision: string;
      readonly file: string;
      readonly line: number;
      readonly sql: string;
      readonly need: TransactionNeed;
    }
  | { readonly kind: 'record'; readonly revision: string };

/**
 * Steps that commit together: one transaction, or (transaction: false) steps that each commit on their own,
 * for what PostgreSQL cannot run inside a transaction.
 */
export interface Segment {
  readonly transaction: boolean;
  readonly steps: readonly PlanStep[];
}

/** What a plan is computed from, so the runner can plan again under the lock and compare. */
export interface PlanInputs {
  readonly source: MigrationSource;
  readonly target: Target;
  /** Record the revisions without running their SQL (stamp). */
  readonly stamp: boolean;
}

/** The data a plan puts at stake: statements that can lose data, and those no reader can see through. */
export interface DataAtStake {
  readonly candidates: readonly LossCandidate[];
  readonly notAnalysable: readonly NotAnalysable[];
  /** The candidates measured against the database (empty tables and columns left out); set by the engine. */
  readonly losses?: readonly DataLoss[];
}

export interface Plan {
  readonly direction: Direction;
  readonly from: string;
  readonly to: string;
  /** In the order they run. Empty when the database is already at the target. */
  readonly migrations: readonly PlannedMigration[];
  /** What runs, in order, and where transactions begin and end. */
  readonly segments: readonly Segment[];
  readonly dataLoss: DataAtStake;
  /** Data at stake: measured losses (or, unmeasured, candidates) or statements that cannot be analysed. */
  readonly destructive: boolean;
  /** "sha256:…" over the direction, the revisions and every statement of every segment, in order. */
  readonly hash: string;
  readonly inputs: PlanInputs;
}

function fileOf(revision: string): string {
  return `${revision}.sql`;
}

/** An applied migration as the plan knows it: from the source when present there, else from the archive. */
function knownMigration(revision: string, source: MigrationSource, state: DatabaseState): Migration {
  const fromSource = source.find((m) => m.revision === revision);
  const archived = state.archive.get(revision);
  if (fromSource) {
    const same = archived && [fromSource.checksum, fromSource.legacyChecksum].includes(archived.checksum);
    if (archived && !same) {
      throw new MigrationError(
        MigrationErrorCode.ChecksumDrift,
        `${fromSource.file} changed after it was applied (applied ${archived.checksum}, now ${fromSource.checksum}): ` +
          'restore the original file and put the change in a new migration',
        { file: fromSource.file },
      );
    }
    return fromSource;
  }
  if (archived) return { ...archived, file: fileOf(revision), origin: 'archive' } as Migration;
  throw new MigrationError(
    MigrationErrorCode.MissingMigration,
    `${fileOf(revision)} is applied in the database but is neither in the migration files nor in the archive`,
    { file: fileOf(revision) },
  );
}

type Known = Migration & { readonly origin?: 'archive' };

function checkRenames(applied: readonly Known[], pending: readonly Migration[]): void {
  for (const m of pending) {
    const twin = applied.find((a) => numericPrefix(a.revision) === numericPrefix(m.revision));
    if (twin) {
      throw new MigrationError(
        MigrationErrorCode.RenamedMigration,
        `${m.file} has the number of the applied ${twin.file}: a renamed migration would run again; ` +
          `restore the name ${twin.file} or give the new file a new number`,
        { file: m.file },
      );
    }
  }
}

function checkOrder(applied: readonly Known[], pending: readonly Migration[]): void {
  for (let i = 1; i < applied.length; i++) {
    if (compareRevisions(applied[i - 1]!.revision, applied[i]!.revision) > 0) {
      throw new MigrationError(
        MigrationErrorCode.OutOfOrderMigration,
        `${applied[i]!.file} was applied before ${applied[i - 1]!.file} although it sorts after it`,
        { file: applied[i]!.file },
      );
    }
  }
  const last = applied.at(-1);
  const early = last && pending.find((m) => compareRevisions(m.revision, last.revision) < 0);
  if (last && early) {
    throw new MigrationError(
      MigrationErrorCode.OutOfOrderMigration,
      `${early.file} is not applied but sorts before ${last.file}, which is: give it a number after ${last.revision}`,
      { file: early.file },
    );
  }
}

function unknownTarget(target: Target, detail: string): MigrationError {
  const file = target.kind === 'revision' ? fileOf(target.revision) : undefined;
  return new MigrationError(
    MigrationErrorCode.UnknownTarget,
    `target ${describeTarget(target)}: ${detail}`,
    file ? { file } : {},
  );
}

/** How many steps, in which direction, the target is from where the database is. */
function stepsTo(target: Target, applied: readonly Known[], pending: readonly Migration[]): number {
  switch (target.kind) {
    case 'latest':
      return pending.length;
    case 'base':
      return -applied.length;
    case 'relative': {
      const room = target.steps > 0 ? pending.length : applied.length;
      if (Math.abs(target.steps) > room) {
        throw unknownTarget(
          target,
          target.steps > 0 ? `only ${room} migration(s) are pending` : `only ${room} are applied`,
        );
      }
      return target.steps;
    }
    case 'revision': {
      const appliedAt = applied.findIndex((m) => m.revision === target.revision);
      if (appliedAt >= 0) return -(applied.length - 1 - appliedAt);
      const pendingAt = pending.findIndex((m) => m.revision === target.revision);
      if (pendingAt >= 0) return pendingAt + 1;
      throw unknownTarget(
        target,
        `no migration ${fileOf(target.revision)} in the migration files or the database`,
      );
    }
  }
}

function rollbackStep(m: Known): Known {
  if (m.down === undefined) {
    throw new MigrationError(
      MigrationErrorCode.IrreversibleMigration,
      `${m.file} has no "-- Down Migration" section, so it cannot be rolled back`,
      { file: m.file },
    );
  }
  return m;
}

/** Parsed sections by migration: planning again under the lock (same source objects) parses nothing twice. */
const parsed = new WeakMap<Migration, Partial<Record<Direction, ParsedStatement[]>>>();

function parseSection(m: Known, direction: Direction, sql: string, first: number): ParsedStatement[] {
  const known = parsed.get(m) ?? {};
  const found = known[direction];
  if (found) return found;
  const statements = parseStatements(sql, m.file).map((s) => ({ ...s, line: first + s.line - 1 }));
  parsed.set(m, { ...known, [direction]: statements });
  return statements;
}

/** Reads one migration's SQL for its direction with PostgreSQL's parser; refuses what cannot run as planned. */
function readMigration(m: Known, direction: Direction): PlannedMigration {
  const sql = (direction === 'up' ? m.up : m.down) ?? '';
  const first = (direction === 'up' ? m.upLine : m.downLine) ?? 1;
  let statements: ParsedStatement[];
  try {
    statements = parseSection(m, direction, sql, first);
  } catch (err) {
    if (!(err instanceof SqlParseError)) throw err;
    const line = first + err.line - 1;
    throw new MigrationError(
      MigrationErrorCode.InvalidSql,
      `${m.file}:${line}:${err.column}: ${err.pgMessage} (PostgreSQL's parser; nothing ran)`,
      { file: m.file, cause: err },
    );
  }
  const control = statements.find((s) => transactionNeed(s) === 'control');
  if (control) {
    throw new MigrationError(
      MigrationErrorCode.InvalidMigrationFile,
      `${m.file}:${control.line}: transaction control (${control.nodeType}) inside a migration: remove it; ` +
        'each migration already runs in a transaction, or alone with "-- schemaops: no-transaction"',
      { file: m.file },
    );
  }
  return { ...m, sql, origin: m.origin ?? 'source', statements };
}

/**
 * Cuts the plan into segments: a transaction holds as many migrations as it can; a statement PostgreSQL cannot
 * run in a transaction (CONCURRENTLY, VACUUM…) runs alone, as does a whole no-transaction migration; a
 * migration that adds an enum value commits at its end, so later migrations can use the value.
 */
export function segmentsOf(migrations: readonly PlannedMigration[], stamp: boolean): Segment[] {
  const segments: Segment[] = [];
  let open: PlanStep[] | undefined;
  const inTransaction = (step: PlanStep) => {
    if (!open) segments.push({ transaction: true, steps: (open = []) });
    open.push(step);
  };
  const alone = (steps: PlanStep[]) => {
    open = undefined;
    segments.push({ transaction: false, steps });
  };
  for (const m of migrations) {
    const record: PlanStep = { kind: 'record', revision: m.revision };
    const steps: PlanStep[] = (stamp ? [] : m.statements).map((s) => ({
      kind: 'statement',
      revision: m.revision,
      file: m.file,
      line: s.line,
      sql: s.text,
      need: transactionNeed(s),
    }));
    if (m.noTransaction) {
      alone([...steps, record]);
      continue;
    }
    for (const step of steps) {
      if (step.kind === 'statement' && step.need === 'outside') alone([step]);
      else inTransaction(step);
    }
    inTransaction(record);
    if (steps.some((s) => s.kind === 'statement' && s.need === 'commitAfter')) open = undefined;
  }
  return segments;
}

function planHash(
  head: { direction: Direction; from: string; to: string; stamp: boolean },
  migrations: readonly PlannedMigration[],
  segments: readonly Segment[],
): string {
  const checksums = new Map(migrations.map((m) => [m.revision, m.checksum]));
  const body = JSON.stringify([
    head,
    segments.map((s) => [
      s.transaction,
      s.steps.map((step) =>
        step.kind === 'statement'
          ? [step.revision, step.sql]
          : ['record', step.revision, checksums.get(step.revision)],
      ),
    ]),
  ]);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * Plans the way from the database's state to the target. Pure (the SQL parser must be loaded): it reads nothing
 * and refuses, naming the file, when the way is unknown, irreversible, unreadable, or the history does not match
 * the files.
 */
export function planMigration(
  source: MigrationSource,
  state: DatabaseState,
  target: Target,
  options: { stamp?: boolean } = {},
): Plan {
  const stamp = options.stamp ?? false;
  const applied: Known[] = state.applied.map((a) => knownMigration(a.revision, source, state));
  const appliedNames = new Set(applied.map((m) => m.revision));
  const pending = source.filter((m) => !appliedNames.has(m.revision));
  checkRenames(applied, pending);
  checkOrder(applied, pending);
  const steps = stepsTo(target, applied, pending);
  const direction: Direction = steps < 0 ? 'down' : 'up';
  const chosen =
    steps < 0
      ? applied
          .slice(applied.length + steps)
          .reverse()
          .map((m) => (stamp ? m : rollbackStep(m)))
      : pending.slice(0, steps);
  const migrations = chosen.map((m) => readMigration(m, direction));
  const position = steps < 0 ? applied.length + steps : applied.length;
  const from = applied.at(-1)?.revision ?? BASE;
  const to = steps < 0 ? (applied[position - 1]?.revision ?? BASE) : (migrations.at(-1)?.revision ?? from);
  const segments = segmentsOf(migrations, stamp);
  const dataLoss = stamp
    ? { candidates: [], notAnalysable: [] }
    : findLossCandidates(migrations.map((m) => ({ file: m.file, statements: m.statements })));
  return {
    direction,
    from,
    to,
    migrations,
    segments,
    dataLoss,
    destructive: dataLoss.candidates.length + dataLoss.notAnalysable.length > 0,
    hash: planHash({ direction, from, to, stamp }, migrations, segments),
    inputs: { source, target, stamp },
  };
}

/** What a plan was, as far as the caller knows it: enough to say what changed since. */
export interface PlanSummary {
  readonly hash: string;
  /**
   * The verdict on data loss when the plan was made (and approved, where asked). A plan judged free of loss that
   * would lose data when it runs (a table empty then has rows now) is refused under the lock.
   */
  readonly destructive?: boolean;
  readonly from?: string;
  readonly direction?: Direction;
  readonly migrations?: readonly { readonly revision: string; readonly checksum?: string }[];
}

/** At most `limit` names, then "and N more": messages go into status conditions. */
function bounded(names: readonly string[], limit = 20): string {
  const more = names.length > limit ? `, and ${names.length - limit} more` : '';
  return names.slice(0, limit).join(', ') + more;
}

/** Says how the plan found under the lock differs from the one that was planned (and approved). */
export function describePlanChange(planned: PlanSummary, now: Plan): string {
  const differences: string[] = [];
  if (planned.from !== undefined && planned.from !== now.from)
    differences.push(`the database moved from ${planned.from} to ${now.from}`);
  if (planned.direction !== undefined && planned.direction !== now.direction)
    differences.push(`the plan now goes ${now.direction}, not ${planned.direction}`);
  if (planned.migrations) {
    const before = new Map(planned.migrations.map((m) => [m.revision, m.checksum]));
    const after = new Map(now.migrations.map((m) => [m.revision, m.checksum]));
    const added = [...after.keys()].filter((r) => !before.has(r));
    const removed = [...before.keys()].filter((r) => !after.has(r));
    const changed = [...after].filter(([r, c]) => before.get(r) !== undefined && before.get(r) !== c);
    if (added.length > 0) differences.push(`added: ${bounded(added)}`);
    if (removed.length > 0) differences.push(`no longer in the plan: ${bounded(removed)}`);
    if (changed.length > 0) differences.push(`changed: ${bounded(changed.map(([r]) => `${r}.sql`))}`);
  }
  if (differences.length === 0)
    differences.push(
      planned.migrations ? 'the SQL of the planned migrations changed' : `it is not the plan expected`,
    );
  return (
    `the plan changed since it was made (${differences.join('; ')}): planned ${planned.hash}, ` +
    `now ${now.hash}; nothing ran`
  );
}

/** The plan's data losses as measured, or (not measured) every candidate with its rows unknown. */
export function lossesOf(plan: Plan): readonly DataLoss[] {
  return (
    plan.dataLoss.losses ??
    plan.dataLoss.candidates.map((c) => ({ ...c, rows: undefined, detail: c.description }))
  );
}

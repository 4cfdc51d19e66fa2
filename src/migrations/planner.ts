import { createHash } from 'node:crypto';
import { scanDestructive, type DestructiveStatement } from './destructive.js';
import { MigrationError, MigrationErrorCode } from './errors.js';
import { compareRevisions, type Migration, type MigrationSource } from './source.js';
import type { DatabaseState } from './state.js';
import { describeTarget, type Target } from './target.js';

export type Direction = 'up' | 'down';

/** The revision of an empty schema history. */
export const BASE = 'base';

/** One step of a plan, with the SQL that will run for its direction. */
export interface PlannedMigration extends Migration {
  readonly sql: string;
  /** `archive` when the file is gone from the source and the archived copy is used (a rollback after a Git revert). */
  readonly origin: 'source' | 'archive';
}

export interface Plan {
  readonly direction: Direction;
  readonly from: string;
  readonly to: string;
  /** In the order they run. Empty when the database is already at the target. */
  readonly migrations: readonly PlannedMigration[];
  readonly destructive: boolean;
  readonly destructiveStatements: readonly DestructiveStatement[];
  /** "sha256:…" over the direction and each step's revision and checksum; what an approval names. */
  readonly hash: string;
}

function fileOf(revision: string): string {
  return `${revision}.sql`;
}

/** An applied migration as the plan knows it: from the source when present there, else from the archive. */
function knownMigration(revision: string, source: MigrationSource, state: DatabaseState): PlannedMigration {
  const fromSource = source.find((m) => m.revision === revision);
  const archived = state.archive.get(revision);
  if (fromSource) {
    if (archived && archived.checksum !== fromSource.checksum) {
      throw new MigrationError(
        MigrationErrorCode.ChecksumDrift,
        `${fromSource.file} changed after it was applied (applied ${archived.checksum}, now ${fromSource.checksum}): ` +
          'restore the original file and put the change in a new migration',
        { file: fromSource.file },
      );
    }
    return { ...fromSource, sql: fromSource.up, origin: 'source' };
  }
  if (archived) {
    return { ...archived, file: fileOf(revision), sql: archived.up, origin: 'archive' };
  }
  throw new MigrationError(
    MigrationErrorCode.MissingMigration,
    `${fileOf(revision)} is applied in the database but is neither in the migration files nor in the archive`,
    { file: fileOf(revision) },
  );
}

function checkOrder(applied: readonly PlannedMigration[], pending: readonly Migration[]): void {
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
function stepsTo(
  target: Target,
  applied: readonly PlannedMigration[],
  pending: readonly Migration[],
): number {
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

function rollbackStep(m: PlannedMigration): PlannedMigration {
  if (m.down === undefined) {
    throw new MigrationError(
      MigrationErrorCode.IrreversibleMigration,
      `${m.file} has no "-- Down Migration" section, so it cannot be rolled back`,
      { file: m.file },
    );
  }
  return { ...m, sql: m.down };
}

function planHash(direction: Direction, steps: readonly PlannedMigration[]): string {
  const body = JSON.stringify([direction, steps.map((m) => [m.revision, m.checksum])]);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * Plans the way from the database's state to the target. Pure: it reads nothing and refuses,
 * naming the file, when the way is unknown, irreversible, or the history does not match the files.
 */
export function planMigration(
  source: MigrationSource,
  state: DatabaseState,
  target: Target,
  options: { stamp?: boolean } = {},
): Plan {
  const applied = state.applied.map((a) => knownMigration(a.revision, source, state));
  const appliedNames = new Set(applied.map((m) => m.revision));
  const pending = source.filter((m) => !appliedNames.has(m.revision));
  checkOrder(applied, pending);
  const steps = stepsTo(target, applied, pending);
  const direction: Direction = steps < 0 ? 'down' : 'up';
  const migrations =
    steps < 0
      ? applied
          .slice(applied.length + steps)
          .reverse()
          .map((m) => (options.stamp ? { ...m, sql: m.down ?? '' } : rollbackStep(m)))
      : pending.slice(0, steps).map((m) => ({ ...m, sql: m.up, origin: 'source' as const }));
  const position = steps < 0 ? applied.length + steps : applied.length;
  const from = applied.at(-1)?.revision ?? BASE;
  const to = steps < 0 ? (applied[position - 1]?.revision ?? BASE) : (migrations.at(-1)?.revision ?? from);
  const destructiveStatements = migrations.flatMap((m) => scanDestructive(m.revision, m.sql));
  return {
    direction,
    from,
    to,
    migrations,
    destructive: destructiveStatements.length > 0,
    destructiveStatements,
    hash: planHash(direction, migrations),
  };
}

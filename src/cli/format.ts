import { describeDataLoss } from '../sql/index.js';
import type { MigrateResult } from '../migrations/engine.js';
import { lossesOf, type Plan, type Segment } from '../migrations/planner.js';
import { planSqlLines } from '../migrations/plan-sql.js';
import type { MigrationView } from './inspect.js';

/** Where a command writes: stdout lines, stderr lines, and whether JSON was asked for. */
export interface Output {
  readonly json: boolean;
  out(text: string): void;
  err(text: string): void;
}

/** The revisions a segment touches, in order, each once. */
function revisionsOf(segment: Segment): string[] {
  return [...new Set(segment.steps.map((s) => s.revision))];
}

/** One statement of a plan as `db plan --sql` prints it, with where it comes from. */
function statementsJson(segment: Segment, origins: ReadonlyMap<string, string>) {
  return segment.steps.flatMap((step) =>
    step.kind === 'statement'
      ? [
          {
            revision: step.revision,
            file: step.file,
            line: step.line,
            origin: origins.get(step.revision),
            sql: step.sql,
          },
        ]
      : [],
  );
}

export function planJson(plan: Plan, options: { sql?: boolean } = {}) {
  const origins = new Map(plan.migrations.map((m) => [m.revision, m.origin]));
  return {
    direction: plan.direction,
    from: plan.from,
    to: plan.to,
    migrations: plan.migrations.map((m) => ({
      revision: m.revision,
      origin: m.origin,
      checksum: m.checksum,
      statements: m.statements.length,
    })),
    segments: plan.segments.map((s) => ({
      transaction: s.transaction,
      migrations: revisionsOf(s),
      ...(options.sql ? { statements: statementsJson(s, origins) } : {}),
    })),
    destructive: plan.destructive,
    dataLoss: {
      losses: lossesOf(plan).slice(0, 20),
      notAnalysable: plan.dataLoss.notAnalysable.slice(0, 20),
    },
    hash: plan.hash,
  };
}

function segmentLines(plan: Plan): string[] {
  if (plan.segments.length < 2 && plan.segments.every((s) => s.transaction)) return [];
  return plan.segments.map((s, i) => {
    const how = s.transaction ? 'one transaction' : 'no transaction, each statement commits alone';
    return `  segment ${i + 1} (${how}): ${revisionsOf(s).join(', ')}`;
  });
}

function dataLossLines(plan: Plan): string[] {
  if (!plan.destructive) return [];
  const said = describeDataLoss(lossesOf(plan), plan.dataLoss.notAnalysable);
  return ['destructive: the plan can lose data', ...said.split('\n').map((line) => `  ! ${line}`)];
}

function planLines(plan: Plan): string[] {
  if (plan.migrations.length === 0) return [`already at ${plan.to}: nothing to do`];
  const verb = plan.direction === 'up' ? 'apply' : 'roll back';
  const lines = [
    `${plan.from} -> ${plan.to}: ${verb} ${plan.migrations.length} migration(s) in ${plan.segments.length} segment(s)`,
  ];
  for (const m of plan.migrations)
    lines.push(
      `  ${plan.direction === 'up' ? '+' : '-'} ${m.revision}${m.origin === 'archive' ? ' (from the archive)' : ''}`,
    );
  lines.push(...segmentLines(plan), ...dataLossLines(plan), `hash: ${plan.hash}`);
  return lines;
}

export function formatPlan(out: Output, plan: Plan, options: { sql?: boolean } = {}): void {
  if (out.json) out.out(JSON.stringify(planJson(plan, options)));
  else out.out([...planLines(plan), ...(options.sql ? planSqlLines(plan) : [])].join('\n'));
}

export function formatMigrateResult(
  out: Output,
  result: MigrateResult,
  verb = result.dryRun ? 'dry run' : 'migrated',
): void {
  if (out.json) {
    out.out(JSON.stringify({ ...planJson(result.plan), revision: result.revision, dryRun: result.dryRun }));
    return;
  }
  const lines = planLines(result.plan);
  if (result.plan.migrations.length > 0)
    lines.push(`${verb}: the database is ${result.dryRun ? 'still' : 'now'} at ${result.revision}`);
  out.out(lines.join('\n'));
}

function historyJson(views: readonly MigrationView[], current: string) {
  return {
    current,
    migrations: views.map((v) => ({
      revision: v.revision,
      status: v.status,
      current: v.current,
      runOn: v.runOn?.toISOString() ?? null,
      origin: v.origin,
      changed: v.changed,
    })),
  };
}

function historyNote(v: MigrationView): string {
  const notes = [
    ...(v.current ? ['current'] : []),
    ...(v.origin === 'archive' ? ['file gone, SQL in the archive'] : []),
    ...(v.origin === 'none' ? ['file gone, not archived'] : []),
    ...(v.changed ? ['file changed since applied'] : []),
  ];
  return notes.length > 0 ? `  (${notes.join('; ')})` : '';
}

/**
 * The history: applied migrations oldest first with when they ran, the current one marked `*`, then the
 * pending ones (when the files were given).
 */
export function formatHistory(
  out: Output,
  views: readonly MigrationView[],
  options: { current: string; filesGiven: boolean },
): void {
  if (out.json) {
    out.out(JSON.stringify(historyJson(views, options.current)));
    return;
  }
  const width = Math.max(0, ...views.map((v) => v.revision.length));
  const lines: string[] = [];
  if (options.current === 'base') lines.push('* base  (current: no migration applied)');
  for (const v of views) {
    const when = v.runOn?.toISOString() ?? ''.padEnd(24);
    lines.push(
      `${v.current ? '*' : ' '} ${v.status.padEnd(7)}  ${when}  ${v.revision.padEnd(width)}${historyNote(v)}`.trimEnd(),
    );
  }
  if (!options.filesGiven) lines.push('(pending migrations are listed when --dir is given)');
  out.out(lines.join('\n'));
}

/** A migration's SQL: from its file, else from the archive; null when neither has it. */
function sqlOf(v: MigrationView) {
  const sql = v.file ?? v.archived;
  if (!sql) return { noTransaction: false, up: null, down: null };
  return { noTransaction: sql.noTransaction, up: sql.up, down: sql.down ?? null };
}

function showJson(v: MigrationView) {
  return {
    revision: v.revision,
    status: v.status,
    current: v.current,
    appliedAt: v.runOn?.toISOString() ?? null,
    origin: v.origin,
    file: v.file?.file ?? null,
    checksum: v.file?.checksum ?? v.archived?.checksum ?? null,
    archivedChecksum: v.archived?.checksum ?? null,
    changed: v.changed,
    ...sqlOf(v),
  };
}

/** One migration: where it stands, its checksum, and its up and down SQL (from the file, else the archive). */
export function formatShow(out: Output, v: MigrationView): void {
  if (out.json) {
    out.out(JSON.stringify(showJson(v)));
    return;
  }
  const j = showJson(v);
  const status =
    v.status === 'applied' ? `applied ${j.appliedAt}${v.current ? ' (current)' : ''}` : 'pending';
  const lines = [
    `revision: ${v.revision}`,
    `status:   ${status}`,
    `file:     ${j.file ?? (v.origin === 'archive' ? `gone; the SQL below is from the archive` : 'gone')}`,
    `checksum: ${j.checksum ?? 'unknown'}`,
  ];
  if (v.changed) lines.push(`archived: ${j.archivedChecksum} (the file changed since it was applied)`);
  if (j.noTransaction) lines.push('runs outside a transaction (-- schemaops: no-transaction)');
  if (j.up === null) lines.push('', '-- (no SQL: the file is gone and the archive holds no copy)');
  else
    lines.push(
      '',
      j.up.trimEnd(),
      '',
      j.down?.trimEnd() ?? '-- (no "-- Down Migration" section: irreversible)',
    );
  out.out(lines.join('\n'));
}

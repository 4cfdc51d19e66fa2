import { describeDataLoss } from '../sql/index.js';
import type { MigrateResult } from '../migrations/engine.js';
import { lossesOf, type Plan, type Segment } from '../migrations/planner.js';
import type { AppliedMigration } from '../migrations/state.js';

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

export function planJson(plan: Plan) {
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
    segments: plan.segments.map((s) => ({ transaction: s.transaction, migrations: revisionsOf(s) })),
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

export function formatPlan(out: Output, plan: Plan): void {
  if (out.json) out.out(JSON.stringify(planJson(plan)));
  else out.out(planLines(plan).join('\n'));
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

export function formatHistory(out: Output, history: readonly AppliedMigration[]): void {
  if (out.json) {
    out.out(JSON.stringify(history.map((h) => ({ revision: h.revision, runOn: h.runOn.toISOString() }))));
    return;
  }
  if (history.length === 0) out.out('no migrations applied (base)');
  for (const h of history) out.out(`${h.runOn.toISOString()}  ${h.revision}`);
}

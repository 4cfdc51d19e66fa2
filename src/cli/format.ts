import type { MigrateResult } from '../migrations/engine.js';
import type { Plan } from '../migrations/planner.js';
import type { AppliedMigration } from '../migrations/state.js';

/** Where a command writes: stdout lines, stderr lines, and whether JSON was asked for. */
export interface Output {
  readonly json: boolean;
  out(text: string): void;
  err(text: string): void;
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
    })),
    destructive: plan.destructive,
    destructiveStatements: plan.destructiveStatements,
    hash: plan.hash,
  };
}

function planLines(plan: Plan): string[] {
  if (plan.migrations.length === 0) return [`already at ${plan.to}: nothing to do`];
  const verb = plan.direction === 'up' ? 'apply' : 'roll back';
  const lines = [`${plan.from} -> ${plan.to}: ${verb} ${plan.migrations.length} migration(s)`];
  for (const m of plan.migrations)
    lines.push(
      `  ${plan.direction === 'up' ? '+' : '-'} ${m.revision}${m.origin === 'archive' ? ' (from the archive)' : ''}`,
    );
  if (plan.destructive) {
    lines.push('destructive: the plan can lose data');
    for (const d of plan.destructiveStatements) lines.push(`  ! ${d.revision}: ${d.statement}`);
  }
  lines.push(`hash: ${plan.hash}`);
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

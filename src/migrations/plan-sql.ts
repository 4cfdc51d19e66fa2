import type { Plan, PlanStep } from './planner.js';

/** A statement's header: where it is in its file, or in the archived section when the file is gone. */
function statementHeader(
  step: Extract<PlanStep, { kind: 'statement' }>,
  plan: Plan,
  origin?: string,
): string {
  if (origin !== 'archive') return `-- ${step.file}:${step.line}`;
  const section = plan.direction === 'up' ? 'up' : 'down';
  return `-- ${step.file} (from the archive: the file is gone), ${section} section line ${step.line}`;
}

/**
 * The SQL a plan runs, statement by statement, each under a `-- file:line` header, segment by segment: what an
 * approver reads before approving the plan's hash.
 */
export function planSqlLines(plan: Plan): string[] {
  const origins = new Map(plan.migrations.map((m) => [m.revision, m.origin]));
  const verb = plan.direction === 'up' ? 'applied' : 'rolled back';
  const lines: string[] = [];
  plan.segments.forEach((segment, i) => {
    const how = segment.transaction ? 'one transaction' : 'no transaction: each statement commits on its own';
    lines.push('', `-- segment ${i + 1} of ${plan.segments.length} (${how})`);
    for (const step of segment.steps) {
      if (step.kind === 'record') lines.push(`-- (records ${step.revision} as ${verb})`);
      else lines.push(statementHeader(step, plan, origins.get(step.revision)), `${step.sql};`);
    }
  });
  return lines;
}

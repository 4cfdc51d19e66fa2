import type { V1ConfigMap } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/v1alpha1/group.js';
import { Label, MANAGED_BY } from '../api/v1alpha1/keys.js';
import type { PlanSummary } from '../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import { planSqlLines } from '../migrations/plan-sql.js';
import { lossesOf, type Plan } from '../migrations/planner.js';
import { labelValue } from '../specs/db-job.js';
import { observerOf, type ReconcileContext } from './context.js';

/** A ConfigMap holds at most 1 MiB; the SQL stops short of it and says so. */
const SQL_LIMIT = 900 * 1024;
/** At most this many destructive statements are named in status; the ConfigMap has the whole SQL. */
const DESTRUCTIVE_LIMIT = 20;

/** `<name>-plan`: the ConfigMap with the SQL of the SchemaMigration's current plan. */
export function planConfigMapName(name: string): string {
  return `${name.slice(0, 253 - '-plan'.length)}-plan`;
}

/** `CreateStmt` → `Create`: the statement kinds the parser names, for a count per kind. */
const kindOf = (nodeType: string) => nodeType.replace(/Stmt$/, '');

/** What status.plan says of the plan's SQL: statements per kind, and the destructive ones with their data at stake. */
export function planSummary(plan: Plan): PlanSummary {
  const kinds = new Map<string, number>();
  let statements = 0;
  for (const migration of plan.migrations)
    for (const statement of migration.statements) {
      statements++;
      const kind = kindOf(statement.nodeType);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
  const losses = lossesOf(plan);
  return {
    statements,
    kinds: [...kinds].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count),
    destructive: losses.slice(0, DESTRUCTIVE_LIMIT).map((loss) => ({
      at: `${loss.file}:${loss.line}`,
      statement: loss.detail.slice(0, 256),
      ...(loss.rows !== undefined ? { rows: loss.rows } : {}),
    })),
    ...(losses.length > DESTRUCTIVE_LIMIT ? { destructiveOmitted: losses.length - DESTRUCTIVE_LIMIT } : {}),
  };
}

/** The plan's exact SQL, what an approver reads: bound to the plan by its hash. */
export function planConfigMap(object: StoredSchemaMigration, plan: Plan): V1ConfigMap {
  const text = [
    `-- plan ${plan.hash}: ${plan.direction} ${plan.from} -> ${plan.to}`,
    ...planSqlLines(plan),
  ].join('\n');
  const sql =
    text.length <= SQL_LIMIT
      ? `${text}\n`
      : `${text.slice(0, SQL_LIMIT)}\n-- … cut at ${SQL_LIMIT} bytes; \`schemaops db plan --sql\` prints it whole\n`;
  const { name, namespace, uid } = object.metadata;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: planConfigMapName(name),
      namespace,
      labels: {
        [Label.managedBy]: MANAGED_BY,
        [Label.component]: 'plan',
        [Label.migration]: labelValue(name),
      },
      ownerReferences: [
        { apiVersion: API_VERSION, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    data: { hash: plan.hash, 'plan.sql': sql },
  };
}

/**
 * Publishes the plan's SQL beside the SchemaMigration before status names the plan. Best effort: a plan is
 * carried out by its hash whatever happens to this copy, and a reader checks the copy's hash against status.
 */
export async function publishPlan(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  plan: Plan,
): Promise<void> {
  try {
    await ctx.kube.saveConfigMap(planConfigMap(object, plan));
  } catch (err) {
    const message = `could not write the plan's SQL to ConfigMap ${planConfigMapName(object.metadata.name)}: ${(err as Error).message}`;
    ctx.log.warn({ hash: plan.hash }, message);
    observerOf(ctx).event(object, 'Warning', 'PlanNotPublished', message);
  }
}

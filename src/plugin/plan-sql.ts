import type { Plan } from '../api/v1alpha1/index.js';
import { PluginError } from './errors.js';
import type { PluginClient } from './kube.js';

/**
 * The ConfigMap the operator writes a plan's SQL to: `<name>-plan` (the name cut to fit 253 characters, as the
 * operator cuts it), keys `hash` and `plan.sql`.
 */
export const planConfigMapName = (name: string): string => `${name.slice(0, 253 - '-plan'.length)}-plan`;
export const PLAN_HASH_KEY = 'hash';
export const PLAN_SQL_KEY = 'plan.sql';

export type PlanSql =
  | { readonly kind: 'found'; readonly sql: string }
  | { readonly kind: 'missing'; readonly why: string }
  | { readonly kind: 'stale'; readonly why: string };

/**
 * The exact SQL of `plan`, from the plan's ConfigMap, only when that ConfigMap carries the same hash: SQL of
 * another plan must never be shown as this one's.
 */
export async function readPlanSql(client: PluginClient, name: string, plan: Plan): Promise<PlanSql> {
  const configMapName = planConfigMapName(name);
  const configMap = await client.configMap(configMapName);
  if (configMap === undefined)
    return {
      kind: 'missing',
      why: `ConfigMap "${configMapName}" not found: the operator has not written the plan's SQL`,
    };
  const hash = configMap.data?.[PLAN_HASH_KEY];
  const sql = configMap.data?.[PLAN_SQL_KEY];
  if (hash !== plan.hash)
    return {
      kind: 'stale',
      why: `ConfigMap "${configMapName}" holds the SQL of plan ${hash ?? '(no hash)'}, not of ${plan.hash} in status: it is stale; try again once the operator has written it`,
    };
  if (sql === undefined)
    return { kind: 'missing', why: `ConfigMap "${configMapName}" has no "${PLAN_SQL_KEY}" key` };
  return { kind: 'found', sql };
}

/** The SQL or a PluginError saying why it cannot be shown. */
export async function requirePlanSql(client: PluginClient, name: string, plan: Plan): Promise<string> {
  const found = await readPlanSql(client, name, plan);
  if (found.kind !== 'found') throw new PluginError(found.why);
  return found.sql;
}

export function requirePlan(plan: Plan | undefined, name: string): Plan {
  if (plan === undefined)
    throw new PluginError(`${name} has no plan in status: nothing is under way or awaiting approval`);
  return plan;
}

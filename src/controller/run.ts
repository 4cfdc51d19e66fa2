import type { Logger } from 'pino';
import type { SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import { timeoutsInMilliseconds } from '../api/v1alpha1/spec.js';
import type { Plan } from '../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import type { EngineOptions } from '../migrations/engine.js';
import { patchStatus, type StatusChanges } from '../status/patch.js';
import { NotLeadingError, refOf, type ReconcileContext, type ReconcileResult } from './context.js';
import type { Inputs } from './inputs.js';

/** One run under way: the object as last seen, its validated spec, the plan in status, and the inputs. */
export interface Run {
  readonly ctx: ReconcileContext;
  object: StoredSchemaMigration;
  readonly spec: SchemaMigrationSpec;
  readonly plan: Plan;
  readonly inputs: Inputs;
  readonly timeouts: Record<keyof SchemaMigrationSpec['timeouts'], number>;
  readonly log: Logger;
  /** The database's revision as this reconcile read it, so that a step does not read it again. */
  databaseAt?: string;
  /** Status changes a step left to the run's next write (see deferStatus). */
  deferred?: StatusCompute;
}

type StatusCompute = (current: StoredSchemaMigration) => StatusChanges;

/** The object as it would be with the changes applied (null removes a field, as in the merge patch). */
function withChanges(object: StoredSchemaMigration, changes: StatusChanges): StoredSchemaMigration {
  const status: Record<string, unknown> = { ...object.status };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete status[key];
    else if (value !== undefined) status[key] = value;
  }
  return { ...object, status };
}

/** The changes of `first`, then those `then` computes on top of them, as one. */
function composed(first: StatusCompute, then: StatusCompute): StatusCompute {
  return (current) => {
    const earlier = first(current);
    return { ...earlier, ...then(withChanges(current, earlier)) };
  };
}

/** A step either stops the reconcile (wait, requeue) or lets the next step go on. */
export type StepResult = ReconcileResult | 'continue';

export function engineOptions(spec: SchemaMigrationSpec, databaseUrl: string, log: Logger): EngineOptions {
  const timeouts = timeoutsInMilliseconds(spec.timeouts);
  return {
    databaseUrl,
    migrationsTable: spec.database.migrationsTable,
    schema: spec.database.migrationsSchema,
    waitForLock: true,
    lockTimeoutMs: timeouts.lock,
    statementTimeoutMs: timeouts.statement,
    logger: log,
  };
}

/**
 * Writes status changes computed from the freshest object and keeps the run's view of it current. Changes a
 * step deferred go in the same write, first.
 */
export async function writeStatus(
  run: { ctx: ReconcileContext; object: StoredSchemaMigration; deferred?: StatusCompute },
  compute: StatusCompute,
): Promise<void> {
  if (run.ctx.isLeading?.() === false) throw new NotLeadingError();
  const all = run.deferred ? composed(run.deferred, compute) : compute;
  const updated = await patchStatus(run.ctx.kube, refOf(run.object), all, run.object);
  run.deferred = undefined;
  if (updated) run.object = updated;
}

/**
 * Leaves status changes to the run's next write, which every step makes before it acts (a Job, a scale, SQL) and
 * flushStatus makes when the reconcile ends first. Only for what the world shows again after a crash (pods at 0,
 * a complete Job), so that losing the changes loses nothing: the next reconcile records them again. The window a
 * workload is down is shorter by the writes saved.
 */
export function deferStatus(run: Run, compute: StatusCompute): void {
  run.deferred = run.deferred ? composed(run.deferred, compute) : compute;
}

/** Writes the changes deferred so far, if any. */
export async function flushStatus(run: Run): Promise<void> {
  if (run.deferred) await writeStatus(run, () => ({}));
}

/** Milliseconds since the run started acting. */
export function elapsedMs(run: Run): number {
  const started = run.plan.startedAt ? Date.parse(run.plan.startedAt) : run.ctx.now().getTime();
  return run.ctx.now().getTime() - started;
}

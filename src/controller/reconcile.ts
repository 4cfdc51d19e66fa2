import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Reason } from '../api/v1alpha1/conditions.js';
import { Phase } from '../api/v1alpha1/phases.js';
import { timeoutsInMilliseconds, type SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { Plan } from '../api/v1alpha1/status.js';
import { validateSpec } from '../api/v1alpha1/validate.js';
import type { ObjectRef, StoredSchemaMigration } from '../kube/types.js';
import { currentRevision } from '../migrations/engine.js';
import { MigrationError } from '../migrations/errors.js';
import { DONE, observerOf, TransientError, type ReconcileContext, type ReconcileResult } from './context.js';
import { hasFinalizer, setFinalizer } from './finalizer.js';
import { gatherInputs, type Inputs } from './inputs.js';
import { engineOptions, writeStatus, type Run, type StepResult } from './run.js';
import { failureStillStands, report, startRun } from './start.js';
import { backUp } from './steps/backup.js';
import { failRun, settleFailure } from './steps/fail.js';
import { historyWith } from './steps/history.js';
import { migrate } from './steps/migrate.js';
import { releaseWorkload, restoreWorkload, scaleDown } from './steps/workload.js';
import { atTarget, progressing, stalled, summarise, type Summary } from './summary.js';

const suspended: Summary = {
  phase: Phase.Suspended,
  ready: false,
  reconciling: false,
  stalled: false,
  reason: Reason.Suspended,
  message: 'spec.suspend is true: nothing is done until it is false',
};

/** Deletion: give the workload its replicas back before letting the object go. */
async function finalize(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  log: Logger,
): Promise<ReconcileResult> {
  if (!hasFinalizer(object)) return DONE;
  const target = { ctx, object };
  const validation = validateSpec(object.spec);
  const original = object.status?.workload?.originalReplicas;
  const workload = validation.ok ? validation.spec.workload : undefined;
  if (workload && original !== undefined) {
    const what = `${workload.kind} ${object.metadata.namespace}/${workload.name}`;
    const message = `restoring ${what} to ${original} replicas before deletion`;
    await writeStatus(target, (o) =>
      summarise(o, progressing(Phase.Deleting, Reason.Deleting, message), ctx.now()),
    );
    await releaseWorkload(ctx.kube, object.metadata.namespace, workload, original);
    log.info({ replicas: original }, 'workload restored before deletion');
  }
  await setFinalizer(ctx.kube, target.object, false);
  return DONE;
}

/** Where the database is, for deciding whether the migrate step is behind or ahead of us. */
async function databaseAt(run: Run): Promise<string> {
  try {
    return await currentRevision(engineOptions(run.spec, run.inputs.databaseUrl, run.log));
  } catch (err) {
    if (err instanceof MigrationError) throw new TransientError(err.code, err.message, { cause: err });
    throw err;
  }
}

async function finish(run: Run): Promise<ReconcileResult> {
  const now = run.ctx.now();
  const to = run.plan.to ?? 'base';
  await writeStatus(run, (o) => ({
    ...summarise(o, atTarget(`the database is at ${to}`), now),
    history: historyWith(run, 'Succeeded', now),
    currentRevision: to,
    plan: null,
  }));
  run.object = await setFinalizer(run.ctx.kube, run.object, false);
  run.log.info({ revision: to }, 'run finished');
  const downtime = run.object.status?.history?.[0]?.downtimeSeconds;
  if (downtime !== undefined) observerOf(run.ctx).downtime(downtime);
  return DONE;
}

/** The steps of a run in order; each is idempotent and skips itself when its work is done. */
async function runSteps(run: Run): Promise<ReconcileResult> {
  const { workload, backup } = run.spec;
  const behind = (await databaseAt(run)) !== (run.plan.to ?? 'base');
  const steps: (() => Promise<StepResult>)[] = [];
  if (behind && workload) steps.push(() => scaleDown(run, workload));
  if (behind && backup) steps.push(() => backUp(run, backup));
  if (behind) steps.push(() => migrate(run));
  if (workload) steps.push(() => restoreWorkload(run, workload));
  for (const step of [...steps, () => finish(run)]) {
    if (run.ctx.stopSteps?.aborted) return DONE; // lease lost or SIGTERM: whoever leads next resumes here
    const result = await step();
    if (result !== 'continue') return result;
    if (!run.object.status?.plan) return DONE; // the step ended the run (a failure)
  }
  return DONE;
}

function newRun(
  ctx: ReconcileContext,
  state: { object: StoredSchemaMigration; plan: Plan; spec: SchemaMigrationSpec; inputs: Inputs },
  log: Logger,
): Run {
  return { ctx, ...state, timeouts: timeoutsInMilliseconds(state.spec.timeouts), log };
}

/** A run under way whose inputs have gone (a Secret deleted mid-run): it can only fail. */
async function failWithoutInputs(
  ctx: ReconcileContext,
  state: { object: StoredSchemaMigration; plan: Plan; spec: SchemaMigrationSpec },
  refusal: { reason: string; message: string },
  log: Logger,
): Promise<ReconcileResult> {
  await failRun(
    newRun(ctx, { ...state, inputs: { databaseUrl: '', source: [] } }, log),
    refusal.reason,
    refusal.message,
  );
  return DONE;
}

/**
 * A policy the API accepts but no run carries out yet: refused before a run starts, never ignored (a
 * failure that restores no backup would not be what was asked).
 */
function unsupportedPolicy(spec: SchemaMigrationSpec): string | undefined {
  if (spec.policy.onFailure === 'RestoreBackup')
    return 'spec.policy.onFailure: RestoreBackup is not supported yet; use RestoreWorkload or KeepWorkloadDown (nothing was touched)';
  return undefined;
}

/** The plan of the run under way; a plan in status without startedAt only waits for approval. */
function runUnderWay(object: StoredSchemaMigration): Plan | undefined {
  const plan = object.status?.plan;
  return plan?.startedAt ? plan : undefined;
}

/** Why no new run may start: a failed run that still stands, or a policy not carried out yet. */
function refuseToStart(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  spec: SchemaMigrationSpec,
): Promise<ReconcileResult> | undefined {
  if (failureStillStands(object)) return Promise.resolve(DONE);
  const unsupported = unsupportedPolicy(spec);
  return unsupported
    ? report(ctx, object, stalled(Reason.UnsupportedPolicy, unsupported), { plan: null })
    : undefined;
}

/** The part of a reconcile that needs a valid spec: the inputs, then a new run or the next step. */
async function reconcileSpec(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  spec: SchemaMigrationSpec,
  log: Logger,
): Promise<ReconcileResult> {
  const plan = runUnderWay(object);
  const refused = plan ? undefined : refuseToStart(ctx, object, spec);
  if (refused) return refused;
  const gathered = await gatherInputs(ctx.kube, object.metadata.namespace, spec);
  if (!gathered.ok && plan) return failWithoutInputs(ctx, { object, plan, spec }, gathered.refusal, log);
  if (!gathered.ok) {
    const { reason, message } = gathered.refusal;
    return report(ctx, object, stalled(reason, message), { plan: null });
  }
  const state = plan ? { object, plan } : await startRun(ctx, object, spec, { inputs: gathered.inputs, log });
  if (!('plan' in state)) return state;
  const run = newRun(ctx, { ...state, spec, inputs: gathered.inputs }, log);
  if (run.object.status?.failure && plan) return settleFailure(run);
  return runSteps(run);
}

/**
 * One reconcile of a SchemaMigration: fetch, deletion, validate, then either start a run (plan written to
 * status before any action) or take the next step of the run under way.
 */
export async function reconcile(ctx: ReconcileContext, ref: ObjectRef): Promise<ReconcileResult> {
  const object = await ctx.kube.getSchemaMigration(ref);
  if (!object) return DONE;
  const log = ctx.log.child({
    key: `${ref.namespace}/${ref.name}`,
    reconcileId: randomBytes(4).toString('hex'),
  });
  if (object.metadata.deletionTimestamp) return finalize(ctx, object, log);
  const validation = validateSpec(object.spec);
  if (!validation.ok) return report(ctx, object, stalled(Reason.InvalidSpec, validation.errors.join('; ')));
  if (validation.spec.suspend) return report(ctx, object, suspended);
  return reconcileSpec(ctx, object, validation.spec, log);
}

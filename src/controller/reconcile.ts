import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Reason } from '../api/v1alpha1/conditions.js';
import { Phase } from '../api/v1alpha1/phases.js';
import { timeoutsInMilliseconds, type SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { Plan } from '../api/v1alpha1/status.js';
import { validateSpec } from '../api/v1alpha1/validate.js';
import type { ObjectRef, StoredSchemaMigration } from '../kube/types.js';
import type { RunWorkload } from '../api/v1alpha1/status.js';
import { currentRevision } from '../migrations/engine.js';
import { MigrationError } from '../migrations/errors.js';
import { checkClaim } from './claim.js';
import {
  DONE,
  observerOf,
  poll,
  pollWorkload,
  TransientError,
  type ReconcileContext,
  type ReconcileResult,
} from './context.js';
import { hasFinalizer, setFinalizer } from './finalizer.js';
import { gatherInputs, type Inputs } from './inputs.js';
import { engineOptions, flushStatus, writeStatus, type Run, type StepResult } from './run.js';
import { failureStillStands, report, reportTransient, startRun } from './start.js';
import { backUp } from './steps/backup.js';
import { failedAlready, failRun, settleFailure } from './steps/fail.js';
import {
  finishRestore,
  newRestoreRequest,
  refuseDuringRun,
  restoreDatabase,
  restoreState,
  startRestore,
} from './steps/restore.js';
import { historyWith } from './steps/history.js';
import { databaseBehind, migrate, retryNotDue } from './steps/migrate.js';
import {
  describeWorkload,
  notBackYet,
  releaseWorkload,
  restoreWorkload,
  runWorkload,
  scaleDown,
  workloadRecord,
} from './steps/workload.js';
import { atTarget, progressing, stalled, summarise, type Summary } from './summary.js';

const suspended: Summary = {
  phase: Phase.Suspended,
  ready: false,
  reconciling: false,
  stalled: false,
  reason: Reason.Suspended,
  message: 'spec.suspend is true: nothing is done until it is false',
};

/** Deletion: give the recorded workload its replicas back before letting the object go, whatever the spec says now. */
async function finalize(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  log: Logger,
): Promise<ReconcileResult> {
  if (!hasFinalizer(object)) return DONE;
  const target = { ctx, object };
  const validation = validateSpec(object.spec);
  const record = workloadRecord(object, validation.ok ? validation.spec.workload : undefined);
  if (record) {
    const what = describeWorkload(record, object.metadata.namespace);
    const message = `restoring ${what} to ${record.originalReplicas} replicas before deletion`;
    await writeStatus(target, (o) =>
      summarise(o, progressing(Phase.Deleting, Reason.Deleting, message), ctx.now()),
    );
    const release = await releaseWorkload(ctx.kube, object.metadata.namespace, record);
    log.info({ replicas: record.originalReplicas, release }, 'workload restored before deletion');
  }
  await setFinalizer(ctx.kube, target.object, false);
  return DONE;
}

async function finish(run: Run): Promise<ReconcileResult> {
  const now = run.ctx.now();
  const to = run.plan.to ?? 'base';
  // Ready for the run's generation (the conditions say which): a spec changed mid-run is the next run's.
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
  const newer = run.plan.generation !== undefined && run.object.metadata.generation !== run.plan.generation;
  return newer ? poll : DONE;
}

/** The steps of a run in order; each is idempotent and skips itself when its work is done. */
async function runSteps(run: Run): Promise<ReconcileResult> {
  const notDue = retryNotDue(run);
  if (notDue) return notDue;
  const behind = await databaseBehind(run);
  if (typeof behind !== 'boolean') return behind === 'continue' ? DONE : behind;
  return takeSteps(run, stepsOf(run, behind), () => finish(run));
}

/**
 * Takes the steps in order until one waits; what a step deferred is written before the reconcile ends. A lease
 * lost or SIGTERM stops between steps: whoever leads next resumes there.
 */
async function takeSteps(
  run: Run,
  steps: readonly (() => Promise<StepResult>)[],
  done: () => Promise<ReconcileResult>,
): Promise<ReconcileResult> {
  for (const step of steps) {
    if (stopping(run)) return DONE;
    const result = await step();
    if (result !== 'continue') {
      await flushStatus(run);
      return result;
    }
    if (!run.object.status?.plan) return DONE; // the step ended the run (a failure)
  }
  if (stopping(run)) return DONE;
  await flushStatus(run);
  return done();
}

/** The steps still to take, in order; with the database already at the target only the restore is left. */
function stepsOf(run: Run, behind: boolean): (() => Promise<StepResult>)[] {
  const workload = runWorkload(run.plan, run.spec);
  const { backup } = run.spec;
  const steps: (() => Promise<StepResult>)[] = [];
  if (behind && workload && backup) {
    // The whole database while the app still runs (one snapshot, no writer blocked), then only what the plan
    // touches while it is down: the window does not grow with the database.
    steps.push(
      () => backUp(run, backup, 'beforeScaleDown'),
      () => scaleDown(run, workload),
      () => backUp(run, backup, 'touchedTables'),
    );
  } else {
    if (behind && workload) steps.push(() => scaleDown(run, workload));
    if (behind && backup) steps.push(() => backUp(run, backup));
  }
  if (behind) steps.push(() => migrate(run));
  steps.push(() => restoreWorkload(run));
  return steps;
}

const stopping = (run: Run): boolean => run.ctx.stopSteps?.aborted === true;

/** The steps of a restore: the workload down, a safety backup, the restore Job, the workload back. */
async function restoreSteps(run: Run): Promise<ReconcileResult> {
  const workload = runWorkload(run.plan, run.spec);
  const { backup } = run.spec;
  if (!backup) {
    await failRun(
      run,
      Reason.RestoreRefused,
      'spec.backup was removed during the restore; nothing was restored',
    );
    return DONE;
  }
  const restoredAlready = run.plan.restore?.restoredAt !== undefined;
  const steps: (() => Promise<StepResult>)[] = [];
  if (workload && !restoredAlready) steps.push(() => scaleDown(run, workload));
  if (!restoredAlready) steps.push(() => backUp(run, backup));
  steps.push(
    () => restoreDatabase(run),
    () => restoreWorkload(run),
  );
  return takeSteps(run, steps, async () => {
    await finishRestore(run);
    run.object = await setFinalizer(run.ctx.kube, run.object, false);
    return DONE;
  });
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

/** The plan of the run under way; a plan in status without startedAt only waits for approval. */
function runUnderWay(object: StoredSchemaMigration): Plan | undefined {
  const plan = object.status?.plan;
  return plan?.startedAt ? plan : undefined;
}

/** Why no new run may start: a failed run that still stands. */
function refuseToStart(object: StoredSchemaMigration): Promise<ReconcileResult> | undefined {
  return failureStillStands(object) ? Promise.resolve(DONE) : undefined;
}

/**
 * Brings back a workload an earlier failed run (KeepWorkloadDown) left at 0, unless the run about to start scales
 * that same workload: Ready never comes while an app the operator touched is down.
 */
async function restoreHeld(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  keepIf: RunWorkload | undefined,
): Promise<{ wait: ReconcileResult } | { object: StoredSchemaMigration }> {
  const { ctx } = target;
  const record = workloadRecord(target.object, spec.workload);
  if (!record || (keepIf?.kind === record.kind && keepIf.name === record.name))
    return { object: target.object };
  const namespace = target.object.metadata.namespace;
  const release = await releaseWorkload(ctx.kube, namespace, record);
  const missing = release === 'released' ? await notBackYet(ctx.kube, namespace, record) : undefined;
  if (missing !== undefined) {
    const what = describeWorkload(record, namespace);
    const message = `restoring ${what}, kept at 0 by an earlier failed run (${missing})`;
    await report(ctx, target.object, progressing(Phase.RestoringWorkload, Reason.RestoringWorkload, message));
    return { wait: pollWorkload };
  }
  await writeStatus(target, () => ({ workload: null }));
  target.object = await setFinalizer(ctx.kube, target.object, false);
  return { object: target.object };
}

/** How often a SchemaMigration waiting for its workload, or for the owner of its database, looks again. */
const RECHECK_MS = 5_000;

/**
 * The workload spec.workload names does not exist. On an empty database (first install under GitOps, where the
 * workload comes in a later sync wave) nothing can be using it, so the run goes without scaling; otherwise
 * the operator waits for the workload to appear, looking again on its own.
 */
async function withoutWorkload(
  { ctx, object }: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec & { workload: RunWorkload },
  inputs: Inputs,
  log: Logger,
): Promise<{ workloadNote: string } | { awaitWorkload: () => Promise<ReconcileResult> } | ReconcileResult> {
  const what = `${describeWorkload(spec.workload, object.metadata.namespace)} (spec.workload)`;
  let at: string;
  try {
    at = await currentRevision(engineOptions(spec, inputs.databaseUrl, log));
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    return reportTransient(ctx, object, new TransientError(err.code, err.message, { cause: err }));
  }
  if (at === 'base')
    return {
      workloadNote: `${what} does not exist yet and the database is empty (base): nothing can be using it, so nothing is scaled`,
    };
  const message = `waiting for ${what} to exist: the database is at ${at}, so an app may be using it; checked again every ${RECHECK_MS / 1000}s`;
  // Only a run with work to do waits: a database already at the target is Ready without the workload.
  return {
    awaitWorkload: async () => {
      await report(ctx, object, progressing(Phase.Pending, Reason.WaitingForWorkload, message), {
        plan: null,
      });
      return { requeueAfterMs: RECHECK_MS };
    },
  };
}

/** A new run: one owner per database, a workload that exists (or a first install), then the plan. */
async function newRunFor(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  inputs: Inputs,
  log: Logger,
): Promise<{ object: StoredSchemaMigration; plan: Plan } | ReconcileResult> {
  const { ctx } = target;
  const claimed = await checkClaim(target, inputs.databaseUrl, spec);
  if (claimed) {
    await report(ctx, target.object, stalled(claimed.reason, claimed.message), { plan: null });
    return { requeueAfterMs: RECHECK_MS * 6 };
  }
  const held = (keepIf?: RunWorkload) => restoreHeld(target, spec, keepIf);
  const { workload } = spec;
  if (!workload || !inputs.workloadMissing)
    return startRun(ctx, target.object, spec, { inputs, log, workload, restoreHeld: held });
  const absent = await withoutWorkload({ ctx, object: target.object }, { ...spec, workload }, inputs, log);
  if ('awaitWorkload' in absent)
    return startRun(ctx, target.object, spec, { inputs, log, workload, restoreHeld: held, ...absent });
  if (!('workloadNote' in absent)) return absent;
  const start = { inputs, log, workload: undefined, workloadNote: absent.workloadNote, restoreHeld: held };
  return startRun(ctx, target.object, spec, start);
}

/**
 * Before any input is read: a restore request while a run is under way is refused, and without one a restore
 * that waits, a refused request, or a failed run that still stands ends the reconcile. Returns the new restore
 * request, if any.
 */
async function gate(
  target: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  plan: Plan | undefined,
): Promise<{ end: ReconcileResult } | { request: string | undefined }> {
  if (plan) {
    await refuseDuringRun(target);
    return { request: undefined };
  }
  const restoring = await restoreState(target, spec);
  if (restoring) return { end: restoring };
  const request = newRestoreRequest(target.object);
  // A restore may follow a failed run: that is when it is needed most.
  const refused = request === undefined ? refuseToStart(target.object) : undefined;
  return refused ? { end: await refused } : { request };
}

/** The part of a reconcile that needs a valid spec: the inputs, then a new run, a restore, or the next step. */
async function reconcileSpec(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  spec: SchemaMigrationSpec,
  log: Logger,
): Promise<ReconcileResult> {
  const target = { ctx, object };
  const plan = runUnderWay(object);
  // A run that ended (even if the process stopped right after its last status write) holds no finalizer.
  if (!plan && !object.status?.workload) target.object = await setFinalizer(ctx.kube, object, false);
  const gated = await gate(target, spec, plan);
  if ('end' in gated) return gated.end;
  const { request } = gated;
  const gathered = await gatherInputs(ctx.kube, object.metadata.namespace, spec);
  if (!gathered.ok && plan)
    return failWithoutInputs(ctx, { object: target.object, plan, spec }, gathered.refusal, log);
  if (!gathered.ok) {
    const { reason, message } = gathered.refusal;
    return report(ctx, target.object, stalled(reason, message), { plan: null });
  }
  const { inputs } = gathered;
  const state = plan
    ? { object: target.object, plan }
    : request !== undefined
      ? await startRestore(target, spec, { inputs, request, log })
      : await newRunFor(target, spec, inputs, log);
  if (!('plan' in state)) return state;
  const run = newRun(ctx, { ...state, spec, inputs }, log);
  if (plan && failedAlready(run)) return settleFailure(run);
  return run.plan.restore ? restoreSteps(run) : runSteps(run);
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

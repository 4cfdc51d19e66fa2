import { ConditionStatus, ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import { Annotation } from '../api/v1alpha1/keys.js';
import { Phase } from '../api/v1alpha1/phases.js';
import { kubeTimestamp } from '../api/v1alpha1/set-condition.js';
import type { Approval, SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { RunWorkload, Plan as StatusPlan } from '../api/v1alpha1/status.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import { planToTarget } from '../migrations/engine.js';
import { MigrationError } from '../migrations/errors.js';
import { describeDataLoss, onlineSafety, type OnlineSafety } from '../sql/index.js';
import { lossesOf, type Plan } from '../migrations/planner.js';
import { parseTarget, TargetSyntaxError } from '../migrations/target.js';
import { redact } from '../redact.js';
import { DONE, observerOf, TransientError, type ReconcileContext, type ReconcileResult } from './context.js';
import { setFinalizer } from './finalizer.js';
import { planSummary, publishPlan } from './plan-record.js';
import type { Inputs } from './inputs.js';
import { engineOptions, writeStatus } from './run.js';
import { atTarget, progressing, stalled, summarise, type Summary } from './summary.js';
import type { Logger } from 'pino';

/** A failed run is retried only after the spec (generation) or the retry annotation changes. */
export function failureStillStands(object: StoredSchemaMigration): boolean {
  const failure = object.status?.failure;
  if (!failure) return false;
  const retry = object.metadata.annotations?.[Annotation.retry];
  return failure.generation === (object.metadata.generation ?? 0) && failure.retry === retry;
}

export async function report(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  summary: Summary,
  extra: Record<string, unknown> = {},
): Promise<ReconcileResult> {
  const target = { ctx, object };
  const before = object.status?.conditions?.find((c) => c.type === ConditionType.Stalled);
  await writeStatus(target, (o) => ({ ...summarise(o, summary, ctx.now()), ...extra }));
  // One Warning, one log line and one count when a refusal starts or changes, not one per reconcile.
  const changed = before?.status !== 'True' || before.reason !== summary.reason;
  if (summary.stalled && changed) {
    const { namespace, name } = object.metadata;
    ctx.log.warn(
      { key: `${namespace}/${name}`, reason: summary.reason, message: redact(summary.message) },
      'refused',
    );
    observerOf(ctx).event(object, 'Warning', summary.reason, summary.message);
    observerOf(ctx).refused(summary.reason);
  }
  return DONE;
}

async function planFor(spec: SchemaMigrationSpec, inputs: Inputs, log: Logger): Promise<Plan | Summary> {
  try {
    const target = parseTarget(spec.targetRevision);
    return await planToTarget(engineOptions(spec, inputs.databaseUrl, log), inputs.source, target);
  } catch (err) {
    if (err instanceof TargetSyntaxError)
      return stalled(Reason.InvalidSpec, `spec.targetRevision: ${err.message}`);
    if (err instanceof MigrationError && err.isRefusal) return stalled(err.code, err.message);
    if (err instanceof MigrationError) throw new TransientError(err.code, err.message, { cause: err });
    throw err;
  }
}

/** Says in status why nothing happens yet, then lets the queue retry with backoff. */
export async function reportTransient(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  err: TransientError,
): Promise<never> {
  await report(ctx, object, progressing(Phase.Pending, err.reason, `${err.message}; retrying`));
  throw err;
}

function statusPlan(plan: Plan, now: Date): StatusPlan {
  return {
    from: plan.from,
    to: plan.to,
    direction: plan.direction === 'up' ? 'Up' : 'Down',
    migrations: plan.migrations.map((m) => m.revision),
    destructive: plan.destructive,
    hash: plan.hash,
    summary: planSummary(plan),
    startedAt: kubeTimestamp(now),
  };
}

function dataLossRefusal(plan: Plan): Summary {
  const statements = describeDataLoss(lossesOf(plan), plan.dataLoss.notAnalysable);
  return stalled(
    Reason.DataLossNotAllowed,
    `the plan can lose data; set spec.policy.allowDataLoss: true to allow it:\n${statements}`,
  );
}

/** `Manual`: every plan waits for a human; `Destructive`: plans that go down or drop data do. */
function needsApproval(approval: Approval, plan: Plan): boolean {
  return (
    approval === 'Manual' || (approval === 'Destructive' && (plan.direction === 'down' || plan.destructive))
  );
}

/**
 * The approval gate: the plan and its hash go to status (no startedAt: nothing has begun) and the run waits
 * for the `schemaops.dev/approve` annotation to carry that hash. Nothing else is touched.
 */
async function awaitApproval(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  plan: Plan,
): Promise<ReconcileResult> {
  const { namespace, name } = object.metadata;
  const what = `${plan.direction === 'up' ? 'apply' : 'roll back'} ${plan.migrations.length} migration(s): ${plan.from} -> ${plan.to}`;
  const message = `waiting for approval to ${what}; approve with: kubectl -n ${namespace} annotate smig ${name} ${Annotation.approve}=${plan.hash} --overwrite`;
  if (object.status?.plan?.hash !== plan.hash) {
    await publishPlan(ctx, object, plan);
    observerOf(ctx).event(object, 'Normal', Reason.AwaitingApproval, message);
  }
  const { startedAt: _notStarted, ...proposed } = statusPlan(plan, ctx.now());
  return report(ctx, object, progressing(Phase.AwaitingApproval, Reason.AwaitingApproval, message), {
    plan: proposed,
    currentRevision: plan.from,
    failure: null,
  });
}

/** How a new run starts: its inputs, and the workload it acts on (none on a first install before it exists). */
export interface RunStart {
  readonly inputs: Inputs;
  readonly log: Logger;
  readonly workload: RunWorkload | undefined;
  /** Why the spec's workload is not scaled (first install: it does not exist yet and the database is empty). */
  readonly workloadNote?: string;
  /** The workload does not exist and the database is in use: a plan with work waits for it (this reports so). */
  readonly awaitWorkload?: () => Promise<ReconcileResult>;
  /** Brings back a workload an earlier failed run kept down: the object as it is then, or what to wait for. */
  readonly restoreHeld: (
    keepIf?: RunWorkload,
  ) => Promise<{ readonly wait: ReconcileResult } | { readonly object: StoredSchemaMigration }>;
  /** workload.scaleDown Auto: whether the plan is safe online (when it is, `workload` is undefined). */
  readonly online?: OnlineSafety;
}

/**
 * workload.scaleDown Auto: a plan that is safe online runs without its workload (no scale-down, no finalizer
 * for it); any other plan, or one the linter could not judge, scales down as under Always.
 */
async function decideScaling(spec: SchemaMigrationSpec, plan: Plan, start: RunStart): Promise<RunStart> {
  if (!start.workload || spec.workload?.scaleDown !== 'Auto') return start;
  const online = await onlineSafety(plan);
  const { kind, name } = start.workload;
  return { ...start, workload: online.online ? undefined : { kind, name }, online };
}

/** The WorkloadScaledDown condition a run starts with. */
function workloadCondition(start: RunStart) {
  if (start.online) {
    const reason = start.online.online ? Reason.OnlineSafe : Reason.NotOnlineSafe;
    return { reason, message: `${start.online.rule}: ${start.online.reason}` } as const;
  }
  if (start.workloadNote)
    return { reason: Reason.WorkloadNotCreatedYet, message: start.workloadNote } as const;
  return { reason: start.workload ? Reason.ScalingDown : Reason.NoWorkload, message: '' } as const;
}

/**
 * Plans from the database to the target and, when there is work, writes the plan to status before any action.
 * Returns the started plan, or the result to end the reconcile with (at target, refused).
 */
export async function startRun(
  ctx: ReconcileContext,
  object: StoredSchemaMigration,
  spec: SchemaMigrationSpec,
  inputs: RunStart,
): Promise<{ object: StoredSchemaMigration; plan: StatusPlan } | ReconcileResult> {
  let plan: Plan | Summary;
  try {
    plan = await planFor(spec, inputs.inputs, inputs.log);
  } catch (err) {
    if (err instanceof TransientError) return reportTransient(ctx, object, err);
    throw err;
  }
  // A plan waiting for approval (status.plan without startedAt) is replaced by whatever this reconcile finds.
  if (!('hash' in plan)) return report(ctx, object, plan, { plan: null });
  if (plan.migrations.length === 0) return reportAtTarget(ctx, plan, inputs);
  const start = await decideScaling(spec, plan, inputs);
  const held = await passGates({ ctx, object }, spec, plan, start);
  if (!('object' in held)) return held;
  return beginRun({ ctx, object: held.object }, spec, plan, start);
}

/** Ready means the app is back too: a workload an earlier failed run kept down comes back first. */
async function reportAtTarget(ctx: ReconcileContext, plan: Plan, inputs: RunStart): Promise<ReconcileResult> {
  const held = await inputs.restoreHeld();
  if ('wait' in held) return held.wait;
  return report(ctx, held.object, atTarget(`the database is at ${plan.to}`), {
    currentRevision: plan.to,
    failure: null,
    plan: null,
  });
}

/** What must hold before a run acts: data loss allowed, the workload there, approval given, a held workload back. */
async function passGates(
  { ctx, object }: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  plan: Plan,
  inputs: RunStart,
): Promise<{ object: StoredSchemaMigration } | ReconcileResult> {
  if (plan.destructive && !spec.policy.allowDataLoss)
    return report(ctx, object, dataLossRefusal(plan), { currentRevision: plan.from, plan: null });
  if (inputs.awaitWorkload) return inputs.awaitWorkload();
  if (
    needsApproval(spec.policy.approval, plan) &&
    object.metadata.annotations?.[Annotation.approve] !== plan.hash
  )
    return awaitApproval(ctx, object, plan);
  // A workload kept down by an earlier run stays down only if this run scales the same one.
  const held = await inputs.restoreHeld(inputs.workload);
  return 'wait' in held ? held.wait : { object: held.object };
}

function runNote(inputs: RunStart): string {
  if (inputs.online?.online) return `; the workload stays up: ${inputs.online.reason}`;
  return inputs.workloadNote ? `; ${inputs.workloadNote}` : '';
}

/** Writes the run's plan, its first phase and the finalizer: from here on the run acts. */
async function beginRun(
  { ctx, object }: { ctx: ReconcileContext; object: StoredSchemaMigration },
  spec: SchemaMigrationSpec,
  plan: Plan,
  inputs: RunStart,
): Promise<{ object: StoredSchemaMigration; plan: StatusPlan }> {
  const now = ctx.now();
  const started: StatusPlan = {
    ...statusPlan(plan, now),
    generation: object.metadata.generation ?? 0,
    ...(inputs.workload ? { workload: { kind: inputs.workload.kind, name: inputs.workload.name } } : {}),
    ...(inputs.online ? { online: inputs.online } : {}),
  };
  const run = { ctx, object };
  // With a backup the whole database is dumped first, before any scale-down.
  const first = spec.backup ? Phase.BackingUp : inputs.workload ? Phase.ScalingDown : Phase.Migrating;
  const verb = started.direction === 'Up' ? 'applying' : 'rolling back';
  const note = runNote(inputs);
  const message = `${verb} ${plan.migrations.length} migration(s): ${plan.from} -> ${plan.to}${note}`;
  if (inputs.workload) run.object = await setFinalizer(ctx.kube, run.object, true);
  if (object.status?.plan?.hash !== plan.hash) await publishPlan(ctx, object, plan);
  await writeStatus(run, (o) => ({
    ...summarise(o, progressing(first, Reason.Progressing, message), now, [
      { type: ConditionType.WorkloadScaledDown, status: ConditionStatus.False, ...workloadCondition(inputs) },
      {
        type: ConditionType.BackedUp,
        status: ConditionStatus.False,
        reason: spec.backup ? Reason.BackingUp : Reason.BackupNotConfigured,
        message: '',
      },
      {
        type: ConditionType.Migrated,
        status: ConditionStatus.False,
        reason: Reason.Progressing,
        message: '',
      },
    ]),
    plan: started,
    currentRevision: plan.from,
    failure: null,
  }));
  const online = inputs.online ? { online: inputs.online.online, rule: inputs.online.rule } : {};
  inputs.log.info({ from: plan.from, to: plan.to, hash: plan.hash, ...online }, 'run started');
  return { object: run.object, plan: started };
}

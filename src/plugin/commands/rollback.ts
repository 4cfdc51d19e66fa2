import { Reason } from '../../api/v1alpha1/index.js';
import { isConflict, type StoredSchemaMigration } from '../../kube/types.js';
import { PluginError } from '../errors.js';
import { confirm } from '../prompt.js';
import { readinessOf, type Readiness } from '../readiness.js';
import { migrationConfigMaps, parseSteps, revisionsOf, stepsBack } from '../revisions.js';
import type { ConfirmOptions, Session } from '../session.js';
import { specOf } from '../spec.js';
import { watchUntil } from '../watch-until.js';

export interface RollbackOptions extends ConfirmOptions {
  readonly to: string;
  /** How long to wait for the operator's first report on the new spec. */
  readonly timeoutMs: number;
}

type Reaction = Exclude<Readiness, { kind: 'unobserved' }> | { kind: 'superseded'; generation: number };

/** The revision `--to` names: itself, or N migrations before status.currentRevision in the migration files. */
async function targetOf(s: Session, object: StoredSchemaMigration, to: string): Promise<string> {
  const steps = parseSteps(to);
  if (steps === undefined) return to.trim();
  const current = object.status?.currentRevision;
  if (current === undefined)
    throw new PluginError(
      `${object.metadata.name} has no status.currentRevision yet: give the revision itself`,
    );
  const revisions = revisionsOf(await migrationConfigMaps(s.client, specOf(object)));
  return stepsBack(revisions, current, steps);
}

/** A merge patch of spec with the resourceVersion read: a change in between is refused, not overwritten. */
async function patchSpec(
  s: Session,
  object: StoredSchemaMigration,
  spec: Record<string, unknown>,
): Promise<StoredSchemaMigration> {
  const { name, resourceVersion } = object.metadata;
  try {
    return await s.client.patch(name, { metadata: { resourceVersion }, spec });
  } catch (err) {
    if (isConflict(err))
      throw new PluginError(`${name} changed while this command ran: nothing was changed; run it again`);
    throw err;
  }
}

/** Waits for the operator's first report on `generation`: the reaction to the change just made. */
async function reactionTo(
  s: Session,
  name: string,
  generation: number,
  timeoutMs: number,
): Promise<{ reaction: Reaction; object: StoredSchemaMigration } | undefined> {
  return watchUntil(
    s.client,
    name,
    (object) => {
      const now = object.metadata.generation ?? 0;
      if (now !== generation) return { reaction: { kind: 'superseded', generation: now }, object };
      const readiness = readinessOf(object);
      return readiness.kind === 'unobserved' ? undefined : { reaction: readiness, object };
    },
    { timeoutMs },
  );
}

function isDataLossRefusal(reaction: Reaction): reaction is Extract<Reaction, { kind: 'stalled' }> {
  return reaction.kind === 'stalled' && reaction.reason === Reason.DataLossNotAllowed;
}

/** Says what the operator did with the change; throws when it refused it. */
function report(s: Session, name: string, target: string, reaction: Reaction): void {
  if (reaction.kind === 'ready') s.out(`${name} is at ${target}: the rollback is done`);
  else if (reaction.kind === 'superseded')
    s.out(
      `${name} was changed again meanwhile (generation ${reaction.generation}): see kubectl schemaops status ${name}`,
    );
  else if (reaction.kind === 'stalled')
    throw new PluginError(
      `the operator refused the rollback of ${name}: ${reaction.reason}: ${reaction.message}`,
    );
  else if (reaction.reason === Reason.AwaitingApproval)
    s.out(`the rollback waits for approval: kubectl schemaops approve ${name}`);
  else
    s.out(
      `the operator is rolling back (${reaction.reason}: ${reaction.message}); follow with: kubectl schemaops wait ${name}`,
    );
}

/**
 * The object to patch: the refused one, or a fresher read when only its status moved on while the human read
 * the message (same generation, same refusal). Anything else is a change this command must not paper over.
 */
async function stillRefused(s: Session, refused: StoredSchemaMigration): Promise<StoredSchemaMigration> {
  const { name, generation } = refused.metadata;
  const now = await s.client.get(name);
  const readiness = readinessOf(now);
  if (now.metadata.generation === generation && readiness.kind === 'stalled' && isDataLossRefusal(readiness))
    return now;
  throw new PluginError(`${name} changed while the question was asked: nothing was changed; run it again`);
}

async function allowDataLoss(
  s: Session,
  refused: StoredSchemaMigration,
  options: RollbackOptions,
): Promise<StoredSchemaMigration> {
  const { name } = refused.metadata;
  await confirm(`Allow ${name} to lose this data (sets spec.policy.allowDataLoss=true)?`, {
    yes: options.yes ?? false,
  });
  const allowed = await patchSpec(s, await stillRefused(s, refused), { policy: { allowDataLoss: true } });
  s.out(`${name}: spec.policy.allowDataLoss set to true (generation ${allowed.metadata.generation})`);
  return allowed;
}

/**
 * Sets spec.targetRevision, then waits for the operator's reaction. A refusal for data loss is shown (the
 * statements and rows at stake) and, once confirmed, allowed with spec.policy.allowDataLoss=true.
 */
export async function rollbackCommand(s: Session, name: string, options: RollbackOptions): Promise<void> {
  let object = await s.client.get(name);
  const target = await targetOf(s, object, options.to);
  const before = specOf(object).targetRevision ?? '(none)';
  const current = object.status?.currentRevision ?? 'unknown';
  if (before === target)
    s.out(`${name}: spec.targetRevision is already ${target} (the database is at ${current})`);
  else {
    object = await patchSpec(s, object, { targetRevision: target });
    s.out(`${name}: spec.targetRevision set to ${target} (was ${before}; the database is at ${current})`);
  }
  let found = await reactionTo(s, name, object.metadata.generation ?? 0, options.timeoutMs);
  if (found !== undefined && isDataLossRefusal(found.reaction)) {
    s.out(`the operator refused: ${found.reaction.message}`);
    object = await allowDataLoss(s, found.object, options);
    found = await reactionTo(s, name, object.metadata.generation ?? 0, options.timeoutMs);
  }
  if (found === undefined) {
    s.err(
      `warning: the operator has not reported on generation ${object.metadata.generation} within ${options.timeoutMs / 1000}s; follow with: kubectl schemaops wait ${name}`,
    );
    return;
  }
  report(s, name, target, found.reaction);
}

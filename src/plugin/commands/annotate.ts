// The commands that set an annotation: approve, retry, restore.
import { Annotation } from '../../api/v1alpha1/index.js';
import { isConflict } from '../../kube/types.js';
import { PluginError } from '../errors.js';
import { readPlanSql, requirePlan } from '../plan-sql.js';
import { confirm } from '../prompt.js';
import type { ConfirmOptions, Session } from '../session.js';
import { planLines } from '../view.js';
import { findBackup } from './read.js';

/**
 * Shows the plan in status and its SQL (when the operator wrote it for this hash), asks, and approves exactly
 * that hash. The patch carries the resourceVersion that was shown: if anything changed since, it fails.
 */
export async function approveCommand(s: Session, name: string, options: ConfirmOptions): Promise<void> {
  const object = await s.client.get(name);
  const plan = requirePlan(object.status?.plan, name);
  if (plan.startedAt !== undefined)
    throw new PluginError(
      `the plan of ${name} is already under way (since ${plan.startedAt}): nothing to approve`,
    );
  if (object.metadata.annotations?.[Annotation.approve] === plan.hash) {
    s.out(`${name}: plan ${plan.hash} is already approved`);
    return;
  }
  s.out(planLines(plan, name).join('\n'));
  const sql = await readPlanSql(s.client, name, plan);
  if (sql.kind === 'found') s.out(`\n${sql.sql.trimEnd()}\n`);
  else s.err(`warning: the SQL cannot be shown: ${sql.why}`);
  await confirm(`Approve plan ${plan.hash} of ${name}?`, { yes: options.yes ?? false });
  try {
    await s.client.patch(name, {
      metadata: {
        resourceVersion: object.metadata.resourceVersion,
        annotations: { [Annotation.approve]: plan.hash },
      },
    });
  } catch (err) {
    if (isConflict(err))
      throw new PluginError(
        `${name} changed since its plan was shown (the plan may be another now): nothing was approved; run approve again`,
      );
    throw err;
  }
  s.out(`${name}: approved plan ${plan.hash} (annotation ${Annotation.approve})`);
}

/** A new value of the retry annotation: the operator retries a failed run without a spec change. */
export async function retryCommand(s: Session, name: string): Promise<void> {
  await s.client.get(name);
  const value = new Date().toISOString();
  await s.client.patch(name, { metadata: { annotations: { [Annotation.retry]: value } } });
  s.out(`${name}: retry requested (${Annotation.retry}=${value})`);
}

export async function restoreCommand(
  s: Session,
  name: string,
  options: ConfirmOptions & { backup: string },
): Promise<void> {
  const object = await s.client.get(name);
  const backup = findBackup(object.status?.backups ?? [], options.backup, name);
  s.out(
    [
      `Restoring ${backup.file} (revision ${backup.revision}, ${backup.completedAt}, ${backup.tables} tables, ${backup.rows} rows) into ${name}'s database:`,
      '  1. the workload is scaled to zero replicas;',
      '  2. a safety backup of the database as it is now is taken;',
      "  3. the backup's schemas replace the database's in one transaction, and the row counts are checked;",
      '  4. the workload is scaled back;',
      `  5. ${name} then waits for a human (Stalled, RestoredFromBackup): nothing migrates until spec.targetRevision`,
      `     or the retry annotation changes (kubectl schemaops retry ${name}).`,
    ].join('\n'),
  );
  await confirm(`Restore ${backup.file} into ${name}'s database?`, { yes: options.yes ?? false });
  await s.client.patch(name, { metadata: { annotations: { [Annotation.restore]: backup.file } } });
  s.out(
    `${name}: restore of ${backup.file} requested (${Annotation.restore}); follow with: kubectl schemaops wait ${name}`,
  );
}

// The commands that only read: status, history, plan, backups.
import type { BackupRecord } from '../../api/v1alpha1/index.js';
import { PluginError } from '../errors.js';
import { requirePlan, requirePlanSql } from '../plan-sql.js';
import type { OutputOptions, Session } from '../session.js';
import { backupsTable, historyTable, planLines, render, statusText, tableRowsTable } from '../view.js';

export async function statusCommand(s: Session, name: string, options: OutputOptions): Promise<void> {
  const object = await s.client.get(name);
  s.out(options.output ? render(object.status ?? {}, options.output) : statusText(object));
}

export async function historyCommand(s: Session, name: string, options: OutputOptions): Promise<void> {
  const history = (await s.client.get(name)).status?.history ?? [];
  if (options.output) s.out(render(history, options.output));
  else if (history.length === 0) s.err(`No history for ${name}: no run has finished yet.`);
  else s.out(historyTable(history));
}

export async function planCommand(
  s: Session,
  name: string,
  options: OutputOptions & { sql?: boolean },
): Promise<void> {
  const plan = requirePlan((await s.client.get(name)).status?.plan, name);
  const sql = options.sql ? await requirePlanSql(s.client, name, plan) : undefined;
  if (options.output) s.out(render(sql === undefined ? plan : { ...plan, sql }, options.output));
  else if (sql !== undefined) s.out(sql.trimEnd());
  else s.out(planLines(plan, name).join('\n'));
}

/** The backup FILE among status.backups, or a refusal that lists them. */
export function findBackup(backups: readonly BackupRecord[], file: string, name: string): BackupRecord {
  const backup = backups.find((b) => b.file === file);
  if (backup !== undefined) return backup;
  const known =
    backups.length === 0 ? 'it has none' : `its backups: ${backups.map((b) => b.file).join(', ')}`;
  throw new PluginError(`${file} is not one of the backups of ${name} (${known})`);
}

export async function backupsCommand(
  s: Session,
  name: string,
  options: OutputOptions & { tables?: string },
): Promise<void> {
  const backups = (await s.client.get(name)).status?.backups ?? [];
  if (options.tables !== undefined) {
    const backup = findBackup(backups, options.tables, name);
    if (options.output) s.out(render(backup.tableRows ?? [], options.output));
    else if (backup.tableRows === undefined)
      throw new PluginError(
        `status keeps per-table rows for the newest backups only; ${backup.file}.counts beside the dump on the backup PVC has them (${backup.tables} tables, ${backup.rows} rows)`,
      );
    else s.out(tableRowsTable(backup));
    return;
  }
  if (options.output) s.out(render(backups, options.output));
  else if (backups.length === 0) s.err(`No backups for ${name}.`);
  else s.out(backupsTable(backups));
}

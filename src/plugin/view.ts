// What the plugin prints: pure functions from a SchemaMigration (as read) to text, so they are tested alone.
import { stringify } from 'yaml';
import { ConditionType, Phase } from '../api/v1alpha1/index.js';
import type {
  BackupRecord,
  Condition,
  HistoryEntry,
  Plan,
  PlanSummary,
  RestoreRecord,
  SchemaMigrationStatus,
} from '../api/v1alpha1/index.js';
import type { StoredSchemaMigration } from '../kube/types.js';
import { specOf } from './spec.js';

export const OUTPUT_FORMATS = ['json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o json` and `-o yaml`, as kubectl prints them (JSON indented by 4 spaces, YAML as a document). */
export function render(value: unknown, format: OutputFormat): string {
  return format === 'json' ? JSON.stringify(value, null, 4) : stringify(value).trimEnd();
}

const NONE = '<none>';

/** Columns aligned as kubectl aligns them: upper-case headers, three spaces between columns. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** A size as people read it: 1023 B, 1.5 KiB, 20 MiB. */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value)} ${units[unit]}`;
}

export function conditionOf(object: StoredSchemaMigration, type: string): Condition | undefined {
  return object.status?.conditions?.find((c) => c.type === type);
}

/** Whether a condition speaks for the object's current spec (its generation), not an older one. */
export function isCurrent(object: StoredSchemaMigration, condition: Condition | undefined): boolean {
  const observed = condition?.observedGeneration ?? object.status?.observedGeneration;
  return observed !== undefined && observed === object.metadata.generation;
}

/** A label, then the value; continuation lines of a multi-line value are indented under the value. */
function field(label: string, value: string): string {
  const indent = ' '.repeat(14);
  return `${`${label}:`.padEnd(14)}${value.split('\n').join(`\n${indent}`)}`;
}

function conditionLine(object: StoredSchemaMigration, type: string): string {
  const c = conditionOf(object, type);
  if (c === undefined) return field(type, 'Unknown (not reported yet)');
  const stale = isCurrent(object, c) ? '' : ` (for generation ${c.observedGeneration ?? '?'})`;
  const message = c.message === '' ? '' : `: ${c.message}`;
  return field(type, `${c.status} ${c.reason}${stale}${message}`);
}

/** One line for a plan: direction, revisions, count, destructive, hash. */
export function planSummary(plan: Plan): string {
  const range = plan.from !== undefined && plan.to !== undefined ? ` ${plan.from} -> ${plan.to}` : '';
  const destructive = plan.destructive ? ', destructive' : '';
  return `${plan.direction}${range}: ${plan.migrations.length} migration(s)${destructive}`;
}

/** What status.plan.summary says the plan runs: statements per kind, and what the destructive ones lose. */
function summaryLines(summary: PlanSummary | undefined): string[] {
  if (summary === undefined) return [];
  const kinds = summary.kinds.map((k) => `${k.kind} ${k.count}`).join(', ');
  const stake = summary.destructive.map(
    (d) => `${d.at} ${d.statement}${d.rows === undefined ? '' : ` (${d.rows} rows)`}`,
  );
  if (summary.destructiveOmitted !== undefined) stake.push(`… and ${summary.destructiveOmitted} more`);
  return [
    field('Statements', `${summary.statements}${kinds === '' ? '' : ` (${kinds})`}`),
    ...(stake.length > 0 ? [field('At stake', stake.join('\n'))] : []),
  ];
}

/** The plan as `plan` and `approve` show it. */
export function planLines(plan: Plan, name: string): string[] {
  const sign = plan.direction === 'Up' ? '+' : '-';
  const state =
    plan.startedAt !== undefined
      ? `under way since ${plan.startedAt}`
      : `awaiting approval: kubectl schemaops approve ${name}`;
  return [
    field('Plan', planSummary(plan)),
    ...plan.migrations.map((m) => `${' '.repeat(14)}${sign} ${m}`),
    ...summaryLines(plan.summary),
    field('Hash', plan.hash),
    field('State', state),
  ];
}

function workloadLine(status: SchemaMigrationStatus): string[] {
  const w = status.workload;
  if (w === undefined) return [];
  const what = w.kind !== undefined && w.name !== undefined ? `${w.kind} ${w.name}` : 'the workload';
  return [field('Workload', `${what} scaled down by this run; ${w.originalReplicas} replica(s) to restore`)];
}

function lastBackupLine(status: SchemaMigrationStatus): string[] {
  const b = status.lastBackup;
  if (b === undefined) return [];
  const size = b.sizeBytes === undefined ? '' : `, ${humanBytes(b.sizeBytes)}`;
  return [field('Last backup', `${b.file} (${b.completedAt ?? 'not completed'}${size})`)];
}

function restoreLine(restore: RestoreRecord | undefined): string[] {
  if (restore === undefined) return [];
  const parts = [`${restore.outcome} ${restore.file}`];
  if (restore.revision !== undefined) parts.push(`revision ${restore.revision}`);
  if (restore.safetyBackup !== undefined) parts.push(`safety backup ${restore.safetyBackup}`);
  if (restore.finishedAt !== undefined) parts.push(`finished ${restore.finishedAt}`);
  const message = restore.message === undefined ? '' : `\n${restore.message}`;
  return [field('Restore', `${parts.join(', ')} (${restore.source})${message}`)];
}

/** `status NAME`: everything an SRE asks first, one field a line. */
export function statusText(object: StoredSchemaMigration): string {
  const status = object.status ?? {};
  const { name = '', namespace = '', generation } = object.metadata;
  return [
    field('Name', name),
    field('Namespace', namespace),
    field('Phase', status.phase ?? Phase.Pending),
    ...[ConditionType.Ready, ConditionType.Stalled, ConditionType.Reconciling].map((t) =>
      conditionLine(object, t),
    ),
    field('Target', specOf(object).targetRevision ?? NONE),
    field('Current', status.currentRevision ?? 'unknown'),
    field('Generation', `${generation ?? '?'} (observed ${status.observedGeneration ?? 'none yet'})`),
    ...(status.plan === undefined ? [field('Plan', NONE)] : planLines(status.plan, name)),
    ...workloadLine(status),
    ...lastBackupLine(status),
    ...restoreLine(status.restore),
  ].join('\n');
}

/** `history NAME`: newest first, as status keeps it. */
export function historyTable(history: readonly HistoryEntry[]): string {
  const withHash = history.some((h) => h.planHash !== undefined);
  const headers = [
    'FROM',
    'TO',
    'DIRECTION',
    'OUTCOME',
    'STARTED',
    'FINISHED',
    'DOWNTIME',
    'BACKUP',
    'RESTORED-FROM',
    ...(withHash ? ['PLAN-HASH'] : []),
  ];
  const rows = history.map((h) => [
    h.from,
    h.to,
    h.direction,
    h.outcome,
    h.startedAt,
    h.finishedAt,
    h.downtimeSeconds === undefined ? NONE : `${h.downtimeSeconds}s`,
    h.backupFile ?? NONE,
    h.restoredFrom ?? NONE,
    ...(withHash ? [h.planHash ?? NONE] : []),
  ]);
  return table(headers, rows);
}

/** `backups NAME`: newest first. */
export function backupsTable(backups: readonly BackupRecord[]): string {
  const headers = ['FILE', 'REVISION', 'PURPOSE', 'COMPLETED', 'SIZE', 'ROWS', 'TABLES', 'VERIFIED'];
  const rows = backups.map((b) => [
    b.file,
    b.revision,
    b.purpose,
    b.completedAt,
    humanBytes(b.sizeBytes),
    String(b.rows),
    String(b.tables),
    b.verified,
  ]);
  return table(headers, rows);
}

/** `backups NAME --tables FILE`: one backup's rows per table. */
export function tableRowsTable(backup: BackupRecord): string {
  return table(
    ['TABLE', 'ROWS'],
    (backup.tableRows ?? []).map((t) => [t.table, String(t.rows)]),
  );
}

import { FINALIZER, Annotation } from '../../src/api/v1alpha1/keys.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { currentRevision, migrateToTarget } from '../../src/migrations/engine.js';
import { parseTarget } from '../../src/migrations/target.js';
import { files } from '../controller/fixtures.js';
import {
  createFixture,
  createMigration,
  migrationSpec,
  type Fixture,
  type Harness,
} from '../controller/harness.js';
import { query } from '../support/db.js';
import { conditionIs, conditionOf, type RunObserver, type RunView } from './observe.js';

/** How long the slow migration sleeps: long enough to be caught mid-statement. */
export const MIGRATION_SLEEP_S = 1.5;

/**
 * The fixture's migrations, the last one slow (observable while it runs). Every run goes from START to TARGET;
 * BETWEEN is the revision a half-applied plan would leave.
 */
export const faultFiles: Record<string, string> = {
  ...files,
  '3_create-customers.sql': files['3_create-customers.sql']!.replace(
    '-- Down Migration',
    `SELECT pg_sleep(${MIGRATION_SLEEP_S});\n-- Down Migration`,
  ),
};
export const START = '1_create-orders';
export const BETWEEN = '2_add-note';
export const TARGET = '3_create-customers';
export const REPLICAS = 3;

export const faultOptions = {
  files: faultFiles,
  workload: { kind: 'Deployment' as const, replicas: REPLICAS },
  pvc: true,
};

/** Tables no migration changes, with a checksum of their rows in order (columns that exist at START). */
const checksums = {
  orders: `SELECT md5(string_agg(id || ':' || total, ',' ORDER BY id)) AS sum, count(*)::int AS n FROM orders`,
  ledger: `SELECT md5(string_agg(id || ':' || entry, ',' ORDER BY id)) AS sum, count(*)::int AS n FROM ledger`,
};

export type Checksums = Record<keyof typeof checksums, string>;

export async function tableChecksums(url: string): Promise<Checksums> {
  const result = {} as Checksums;
  for (const [table, sql] of Object.entries(checksums) as [keyof typeof checksums, string][]) {
    const [row] = await query<{ sum: string; n: number }>(url, sql);
    result[table] = `${row?.n ?? 0} rows, md5 ${row?.sum ?? '-'}`;
  }
  return result;
}

/** A database at START with rows in `orders` (migrated) and `ledger` (the app's own), before any operator runs. */
export async function seedDatabase(url: string): Promise<Checksums> {
  await migrateToTarget({ databaseUrl: url }, faultFiles, parseTarget(START));
  await query(url, 'INSERT INTO orders (total) SELECT g * 7 FROM generate_series(1, 500) g');
  await query(url, 'CREATE TABLE ledger (id int PRIMARY KEY, entry text NOT NULL)');
  await query(url, "INSERT INTO ledger SELECT g, 'entry ' || g FROM generate_series(1, 500) g");
  return tableChecksums(url);
}

export interface FaultRun {
  fixture: Fixture;
  baseline: Checksums;
}

/** A namespace with the Deployment, the backup PVC, the Secret and the ConfigMap; the database seeded at START. */
export async function prepareRun(h: Harness, databaseUrl?: string): Promise<FaultRun> {
  const fixture = await createFixture(h, faultOptions);
  if (databaseUrl) {
    await h.core.replaceNamespacedSecret({
      namespace: fixture.namespace,
      name: 'orders-db',
      body: { metadata: { name: 'orders-db' }, stringData: { url: databaseUrl } },
    });
    fixture.databaseUrl = databaseUrl;
  }
  const baseline = await seedDatabase(fixture.databaseUrl);
  return { fixture, baseline };
}

export async function startMigration(h: Harness, run: FaultRun, overrides: Record<string, unknown> = {}) {
  await createMigration(h, run.fixture, migrationSpec(faultOptions, overrides));
}

/** The database is at START or TARGET, never part-way through the plan. */
export async function databaseWhole(url: string): Promise<string | undefined> {
  const revision = await currentRevision({ databaseUrl: url });
  return revision === START || revision === TARGET
    ? undefined
    : `the database is at ${revision}, neither ${START} nor ${TARGET}`;
}

const hasFinalizer = (o: StoredSchemaMigration) => (o.metadata.finalizers ?? []).includes(FINALIZER);

/** What a run holds while under way: the workload's record or a started plan. */
const holdsWorkload = (o: StoredSchemaMigration) =>
  o.status?.workload !== undefined || o.status?.plan?.startedAt !== undefined;

/** Conditions that contradict each other in one stored version. */
export function contradictions(o: StoredSchemaMigration): string[] {
  const found: string[] = [];
  const ready = conditionIs(o, 'Ready', 'True');
  const rv = o.metadata.resourceVersion;
  if (ready && conditionIs(o, 'Migrated', 'False'))
    found.push(
      `resourceVersion ${rv}: Ready=True beside Migrated=False (${conditionOf(o, 'Migrated')?.reason})`,
    );
  if (ready && conditionIs(o, 'Stalled', 'True'))
    found.push(`resourceVersion ${rv}: Ready=True beside Stalled=True`);
  if (ready && conditionIs(o, 'Reconciling', 'True'))
    found.push(`resourceVersion ${rv}: Ready=True beside Reconciling=True`);
  if (ready && conditionIs(o, 'WorkloadScaledDown', 'True'))
    found.push(`resourceVersion ${rv}: Ready=True beside WorkloadScaledDown=True`);
  if (holdsWorkload(o) && !hasFinalizer(o))
    found.push(`resourceVersion ${rv}: a run under way (phase ${o.status?.phase}) without the finalizer`);
  return found;
}

const settled = (view: RunView) => {
  const o = view.object;
  const d = view.deployment;
  return (
    o !== undefined &&
    conditionIs(o, 'Ready', 'True') &&
    o.status?.observedGeneration === o.metadata.generation &&
    !hasFinalizer(o) &&
    d?.spec?.replicas === REPLICAS &&
    (d.status?.availableReplicas ?? 0) === REPLICAS &&
    !(Annotation.originalReplicas in (d.metadata?.annotations ?? {}))
  );
};

export interface Expectations {
  /** Where the database must end: TARGET unless the run was meant to fail. */
  revision?: string;
  /** Backup Jobs the run made: 2 with a workload (the whole database before the scale-down, the touched tables while down). */
  jobs?: number;
  settleMs?: number;
}

/**
 * The one check after every scenario: waits (with a deadline) for the run to settle, then returns every way the
 * database, the workload, the Jobs or the status disagree with what a finished run promises. Empty means all true.
 */
export async function violations(
  run: FaultRun,
  observer: RunObserver,
  expect: Expectations = {},
): Promise<string[]> {
  const { revision: want = TARGET, jobs = 2, settleMs = 30_000 } = expect;
  const found: string[] = [];
  await observer.until(settled, 'the run to settle', settleMs).catch((err: unknown) => {
    found.push(`did not settle: ${(err as Error).message}`);
  });
  const { view } = observer;
  const url = run.fixture.databaseUrl;
  const revision = await currentRevision({ databaseUrl: url });
  if (revision !== want) found.push(`the database is at ${revision}, expected ${want}`);
  const sums = await tableChecksums(url);
  for (const [table, sum] of Object.entries(sums))
    if (sum !== run.baseline[table as keyof Checksums])
      found.push(`${table} changed: ${sum}, was ${run.baseline[table as keyof Checksums]}`);

  const d = view.deployment;
  if (d?.spec?.replicas !== REPLICAS)
    found.push(`the Deployment has ${d?.spec?.replicas} replicas, recorded ${REPLICAS}`);
  if ((d?.status?.availableReplicas ?? 0) !== REPLICAS)
    found.push(`the Deployment has ${d?.status?.availableReplicas ?? 0} available replicas, not ${REPLICAS}`);
  const annotation = d?.metadata?.annotations?.[Annotation.originalReplicas];
  if (annotation !== undefined)
    found.push(`the Deployment still has ${Annotation.originalReplicas}=${annotation}`);
  if (view.jobNames.size !== jobs)
    found.push(`${view.jobNames.size} backup Job(s): ${[...view.jobNames].join(', ')}`);

  const o = view.object;
  if (!o) return [...found, 'the SchemaMigration is gone'];
  const status = o.status;
  const ready = conditionIs(o, 'Ready', 'True');
  if (ready !== (revision === TARGET && want === TARGET))
    found.push(
      `Ready=${conditionOf(o, 'Ready')?.status} (${conditionOf(o, 'Ready')?.reason}) with the database at ${revision}`,
    );
  if (status?.currentRevision !== revision)
    found.push(`status.currentRevision ${status?.currentRevision}, the database is at ${revision}`);
  if (status?.observedGeneration !== o.metadata.generation)
    found.push(`observedGeneration ${status?.observedGeneration}, generation ${o.metadata.generation}`);
  if (ready && !conditionIs(o, 'Migrated', 'True'))
    found.push(`Ready=True, Migrated=${conditionOf(o, 'Migrated')?.status}`);
  if (hasFinalizer(o) && !holdsWorkload(o))
    found.push(`the finalizer is left on a finished run (phase ${status?.phase})`);
  if (status?.workload !== undefined)
    found.push(`status.workload still recorded: ${JSON.stringify(status.workload)}`);
  const history = status?.history ?? [];
  if (history.length !== 1 || history[0]?.outcome !== (want === TARGET ? 'Succeeded' : 'Failed'))
    found.push(`history ${JSON.stringify(history.map((e) => `${e.from}->${e.to} ${e.outcome}`))}`);
  // Every Job's dump recorded once, the last one as lastBackup: none made twice, none lost by a restart.
  const recorded = (status?.backups ?? []).map((b) => b.job).filter((job) => view.jobNames.has(job));
  if (recorded.length !== view.jobNames.size || !view.jobNames.has(status?.lastBackup?.job ?? ''))
    found.push(
      `backups recorded ${JSON.stringify(recorded)}, lastBackup.job ${status?.lastBackup?.job}, Jobs ${[...view.jobNames].join(', ')}`,
    );
  const seen = new Set<string>();
  for (const version of view.versions) for (const c of contradictions(version)) seen.add(c);
  return [...found, ...seen];
}

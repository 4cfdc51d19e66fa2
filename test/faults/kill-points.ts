import type { Harness } from '../controller/harness.js';
import { query, testPostgres } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { lockTable, waitForBlockedSession } from '../secrets/support.js';
import { REPLICAS, type FaultRun } from './invariants.js';
import { conditionIs, jobFinished, type RunObserver, type RunView } from './observe.js';

/** mulberry32: a small seeded PRNG, so a failing grouping of kill points can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What a kill point may use: the harness, the run, the admin's view of it. */
export interface KillContext {
  h: Harness;
  run: FaultRun;
  observer: RunObserver;
}

/** What a point undoes once the operator is dead (a lock released). */
export type AfterKill = () => Promise<void>;

/**
 * A moment in a run at which the operator is SIGKILLed. `prepare` runs when the run is created (before the
 * operator can get there); `reached` resolves at the moment itself.
 */
export interface KillPoint {
  readonly name: string;
  /** Inside a step rather than between two. */
  readonly mid: boolean;
  prepare?(k: KillContext): Promise<AfterKill | undefined>;
  reached(k: KillContext): Promise<void>;
}

export const onView =
  (predicate: (view: RunView) => boolean, what: string) =>
  (k: KillContext): Promise<void> =>
    k.observer.until(predicate, what);

export const everScaledDown = (view: RunView) =>
  view.versions.some((o) => conditionIs(o, 'WorkloadScaledDown', 'True'));

const databaseName = (url: string) => new URL(url).pathname.slice(1);

/** Resolves while the slow migration's pg_sleep runs on that database (seen from the server's admin). */
export async function migrationRunning(adminUrl: string, databaseUrl: string): Promise<void> {
  await waitFor(
    async () =>
      (
        await query(
          adminUrl,
          `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()`,
          [databaseName(databaseUrl)],
        )
      ).length > 0,
    { timeoutMs: 30_000, intervalMs: 50, what: 'the migration to be running' },
  );
}

/** The steps of a run in order, and inside the long ones: the whole backup, the scale-down, the touched tables' backup, … */
export const KILL_POINTS: readonly KillPoint[] = [
  {
    name: 'after the backup Job name is recorded',
    mid: false,
    reached: onView((v) => v.object?.status?.plan?.backupJob !== undefined, 'plan.backupJob'),
  },
  {
    name: 'after the backup Job is created',
    mid: false,
    reached: onView((v) => v.jobs.size > 0, 'the backup Job'),
  },
  {
    name: 'during the backup Job (pg_dump waits on a table lock)',
    mid: true,
    // pg_dump waits for the app's table while it is locked: a window as long as the test wants.
    prepare: async (k) => {
      const lock = await lockTable(k.run.fixture.databaseUrl, 'ledger');
      return () => lock.release();
    },
    reached: (k) => waitForBlockedSession(k.run.fixture.databaseUrl, 'pg_dump', 30_000),
  },
  {
    name: 'after the backup Job finished',
    mid: false,
    reached: onView((v) => [...v.jobs.values()].some(jobFinished), 'the backup Job to finish'),
  },
  {
    name: 'after the whole backup is recorded, before the scale-down',
    mid: false,
    reached: onView((v) => conditionIs(v.object, 'BackedUp', 'True'), 'BackedUp=True'),
  },
  {
    name: 'after the original replicas are recorded',
    mid: false,
    reached: onView((v) => v.object?.status?.workload?.originalReplicas !== undefined, 'replicas recorded'),
  },
  {
    name: 'after the scale-down is recorded',
    mid: false,
    reached: onView((v) => conditionIs(v.object, 'WorkloadScaledDown', 'True'), 'WorkloadScaledDown=True'),
  },
  {
    name: "after the touched tables' backup Job name is recorded",
    mid: false,
    reached: onView((v) => v.object?.status?.plan?.tablesBackupJob !== undefined, 'plan.tablesBackupJob'),
  },
  {
    name: "after the touched tables' backup is recorded, before the migration",
    mid: false,
    reached: onView((v) => {
      const job = v.object?.status?.plan?.tablesBackupJob;
      return job !== undefined && (v.object?.status?.backups ?? []).some((b) => b.job === job);
    }, "the touched tables' backup"),
  },
  {
    name: 'during the migration (pg_sleep)',
    mid: true,
    reached: (k) => migrationRunning(testPostgres().adminUrl, k.run.fixture.databaseUrl),
  },
  {
    name: 'after the migration is recorded',
    mid: false,
    reached: onView((v) => conditionIs(v.object, 'Migrated', 'True'), 'Migrated=True'),
  },
  {
    name: 'during the restore (pods not yet available)',
    mid: true,
    reached: onView(
      (v) =>
        everScaledDown(v) &&
        (v.deployment?.spec?.replicas ?? 0) > 0 &&
        (v.deployment?.status?.availableReplicas ?? 0) < REPLICAS,
      'the workload coming back',
    ),
  },
  {
    name: 'after the restore is recorded',
    mid: false,
    reached: onView(
      (v) => everScaledDown(v) && conditionIs(v.object, 'WorkloadScaledDown', 'False'),
      'WorkloadScaledDown=False after the run',
    ),
  },
];

/** The kill points split into `runs` groups by the seed; each group in run order. */
export function groupKillPoints(points: readonly KillPoint[], seed: number, runs: number): KillPoint[][] {
  const random = prng(seed);
  const groups: KillPoint[][] = Array.from({ length: runs }, () => []);
  shuffle(points, random).forEach((p, i) => groups[i % runs]!.push(p));
  return groups.map((g) => g.sort((a, b) => points.indexOf(a) - points.indexOf(b)));
}

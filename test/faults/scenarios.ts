import { join } from 'node:path';
import pg from 'pg';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import { MIGRATION_LOCK_ID } from '../../src/migrations/engine.js';
import type { Harness } from '../controller/harness.js';
import { testPostgres } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import { operator, processes, stopAll } from './crash.js';
import { databaseWhole, prepareRun, startMigration, violations, type FaultRun } from './invariants.js';
import { migrationRunning } from './kill-points.js';
import { conditionIs, conditionOf, observeRun, type RunObserver } from './observe.js';
import { startOperatorProcess, type OperatorProcess } from '../support/operator-process.js';
import { startRestartablePostgres } from './postgres.js';

/** What a scenario saw: anything wrong at the moment of the fault, then the invariants once it settled. */
export interface ScenarioReport {
  during: string[];
  violations: string[];
}

/** Runs START → TARGET with one operator process and `fault` applied mid-run; then the invariants. */
export async function scenario(
  h: Harness,
  fault: (s: { run: FaultRun; observer: RunObserver; operator: OperatorProcess }) => Promise<string[]>,
  options: { databaseUrl?: string } = {},
): Promise<ScenarioReport> {
  const run = await prepareRun(h, options.databaseUrl);
  const observer = await observeRun(h.kc, run.fixture.namespace);
  try {
    const first = operator(h);
    await startMigration(h, run);
    const during = await fault({ run, observer, operator: first });
    return { during, violations: await violations(run, observer) };
  } finally {
    observer.stop();
    h.faults.clear();
    await stopAll();
  }
}

const statusPath = (run: FaultRun) =>
  `/apis/${GROUP}/${VERSION}/namespaces/${run.fixture.namespace}/${PLURAL}/${run.fixture.ref.name}/status`;

const jobCreated = (observer: RunObserver) => observer.until((v) => v.jobs.size > 0, 'the backup Job');

/** PostgreSQL shut down (fast) while the migration runs, down for 1.5 s, then back on the same port. */
export async function postgresRestart(h: Harness): Promise<ScenarioReport> {
  const postgres = await startRestartablePostgres();
  try {
    const url = await postgres.server.createDatabase('restart');
    return await scenario(
      h,
      async ({ run }) => {
        await migrationRunning(postgres.server.url(), run.fixture.databaseUrl);
        await postgres.restart(1_500);
        const whole = await databaseWhole(run.fixture.databaseUrl);
        return whole ? [whole] : [];
      },
      { databaseUrl: url },
    );
  } finally {
    await postgres.stop();
  }
}

/** Another session holds the migration's advisory lock until the operator has timed out on it once. */
export async function lockHeld(h: Harness): Promise<ScenarioReport> {
  const asAdmin = (url: string) => {
    const admin = new URL(testPostgres().adminUrl);
    admin.pathname = new URL(url).pathname;
    return admin.toString();
  };
  let holder: pg.Client | undefined;
  try {
    return await scenario(h, async ({ run, observer }) => {
      holder = new pg.Client({ connectionString: asAdmin(run.fixture.databaseUrl) });
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_ID]);
      await observer.until((v) => conditionIs(v.object, 'BackedUp', 'True'), 'the backup', 30_000);
      // Status says what the run waits on: the lock, and which session holds it.
      const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await observer.until(
        (v) => {
          const reconciling = conditionOf(v.object, 'Reconciling');
          return reconciling?.reason === 'WaitingForLock' && reconciling.message.includes(String(holderPid));
        },
        'status to say the run waits for the lock held by that session',
        30_000,
      );
      const whole = await databaseWhole(run.fixture.databaseUrl);
      await holder.end();
      holder = undefined;
      return whole ? [whole] : [];
    });
  } finally {
    await holder?.end().catch(() => undefined);
  }
}

/** Every watch cut, and every resourceVersion handed out made too old (410 Gone), during the backup and the migration. */
export async function watchesCut(h: Harness): Promise<ScenarioReport> {
  return scenario(h, async ({ run, observer }) => {
    const cuts: number[] = [];
    await jobCreated(observer);
    await h.faults.expireResourceVersions();
    cuts.push(h.faults.cutWatches());
    await migrationRunning(testPostgres().adminUrl, run.fixture.databaseUrl);
    await h.faults.expireResourceVersions();
    cuts.push(h.faults.cutWatches());
    return cuts.every((n) => n > 0) ? [] : [`watches cut: ${cuts.join(', ')} (expected some each time)`];
  });
}

/** 409 Conflict and 500 answers to status writes at the start, during the backup and during the restore. */
export async function statusWritesRefused(h: Harness): Promise<ScenarioReport> {
  return scenario(h, async ({ run, observer }) => {
    const path = statusPath(run);
    h.faults.failNext({ path, method: 'PATCH', status: 409, count: 2 });
    await jobCreated(observer);
    h.faults.failNext({ path, method: 'PATCH', status: 500, count: 2 });
    await observer.until((v) => (v.deployment?.spec?.replicas ?? 0) > 0 && v.jobs.size > 0, 'the restore');
    h.faults.failNext({ path, method: 'PATCH', status: 409, count: 1 });
    h.faults.failNext({ path, method: 'PATCH', status: 500, count: 1 });
    return [];
  });
}

/** The status writes that follow the commit fail (500): the run must still end with status true to the database. */
export async function statusLostAfterCommit(h: Harness): Promise<ScenarioReport> {
  return scenario(h, async ({ run }) => {
    await migrationRunning(testPostgres().adminUrl, run.fixture.databaseUrl);
    h.faults.failNext({ path: statusPath(run), method: 'PATCH', status: 500, count: 3 });
    return [];
  });
}

/** SIGTERM while the migration runs: it finishes or aborts whole, no further step, exit 0; a new process finishes. */
export async function sigtermMidMigration(h: Harness): Promise<ScenarioReport> {
  return scenario(h, async ({ run, observer, operator: op }) => {
    await migrationRunning(testPostgres().adminUrl, run.fixture.databaseUrl);
    const code = await op.terminate();
    const during: string[] = [];
    if (code !== 0) during.push(`exit ${String(code)} after SIGTERM`);
    const whole = await databaseWhole(run.fixture.databaseUrl);
    if (whole) during.push(whole);
    const replicas = observer.view.deployment?.spec?.replicas;
    if (replicas !== 0)
      during.push(`the workload was scaled to ${replicas} after SIGTERM (a new step started)`);
    operator(h);
    return during;
  });
}

/**
 * Two processes: the leader reaches kube-apiserver through the proxy, the standby directly. During the backup Job
 * or mid-migration the leader is SIGKILLed, or its lease renewals fail (it must stop at the next step boundary);
 * the standby takes over and finishes the run.
 */
export async function leaderFailover(
  h: Harness,
  failover: { moment: 'backup' | 'migration'; leader: 'killed' | 'renewals fail' },
): Promise<ScenarioReport> {
  const token = h.operatorKc.getCurrentUser()?.token ?? '';
  const direct = join(h.test.dir, 'operator-direct.kubeconfig');
  h.cluster.writeKubeconfig(direct, { token });
  return scenario(h, async ({ run, observer, operator: leader }) => {
    await waitFor(() => leader.leading(), { timeoutMs: 20_000, what: 'the first process to lead' });
    const standby = startOperatorProcess(direct, { name: 'standby' });
    processes.push(standby);
    await waitFor(() => standby.output().includes('"msg":"operator started"'), {
      timeoutMs: 20_000,
      what: 'the standby to start',
    });
    if (failover.moment === 'migration')
      await migrationRunning(testPostgres().adminUrl, run.fixture.databaseUrl);
    else await jobCreated(observer);
    if (failover.leader === 'killed') await leader.kill();
    else h.faults.failNext({ path: '/apis/coordination.k8s.io/', status: 500, count: 1_000_000 });
    await waitFor(() => standby.leading(), { timeoutMs: 20_000, what: 'the standby to lead' });
    return [];
  });
}

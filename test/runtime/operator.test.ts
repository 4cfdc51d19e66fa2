import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EventsV1Api } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { startOperator, type RunningOperator } from '../../src/runtime/operator.js';
import { files } from '../controller/fixtures.js';
import {
  condition,
  createFixture,
  createMigration,
  isReady,
  migrationSpec,
  patchMigration,
  startHarness,
  type Fixture,
  type Harness,
} from '../controller/harness.js';
import { testPostgres } from '../support/db.js';
import { waitFor } from '../support/wait.js';

let h: Harness;
let kubeconfigPath: string;
const logs: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  }),
);

beforeAll(async () => {
  h = await startHarness();
  kubeconfigPath = h.operatorKubeconfigPath;
});
afterAll(async () => {
  await h.stop();
});

function operatorConfig(flags: Record<string, string> = {}) {
  return loadConfig(
    { kubeconfig: kubeconfigPath, metricsAddr: '127.0.0.1:0', healthAddr: '127.0.0.1:0', ...flags },
    {},
  );
}

const options = { files, workload: { kind: 'Deployment' as const, replicas: 2 } };

async function readyAt(f: Fixture, revision: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      const object = await h.kube.getSchemaMigration(f.ref);
      return isReady(object) && object?.status?.currentRevision === revision;
    },
    { timeoutMs, what: `Ready at ${revision}` },
  );
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

describe('the operator runtime', () => {
  let operator: RunningOperator;
  afterAll(async () => {
    await operator.stop();
  });

  it('is ready once synced, migrates, and exports the named metrics', async () => {
    // Hold the first list back so the not-yet-synced answer can be seen.
    h.faults.delay({ ms: 1_500, path: '/apis/schemaops.dev', method: 'GET', count: 1 });
    operator = await startOperator(operatorConfig(), log);
    expect(await get(operator.healthPort, '/readyz')).toMatchObject({ status: 503 });
    await waitFor(async () => (await get(operator.healthPort, '/readyz')).status === 200, {
      what: '/readyz',
    });
    expect((await get(operator.healthPort, '/healthz')).status).toBe(200);
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options));
    await readyAt(f, '3_create-customers');
    // The run's last metrics are recorded just after the Ready status is written.
    let metrics = '';
    await waitFor(
      async () => {
        metrics = (await get(operator.metricsPort, '/metrics')).text;
        return metrics.includes('schemaops_workload_downtime_seconds_count 1');
      },
      { what: 'the downtime of the finished run in /metrics' },
    );
    for (const series of [
      'schemaops_reconciles_total{result="success"}',
      'schemaops_reconcile_duration_seconds_bucket',
      'schemaops_migrations_applied_total 3',
      'schemaops_migration_duration_seconds_count{direction="Up"} 1',
      'schemaops_workload_downtime_seconds_count 1',
      'schemaops_downtime_seconds_count 1',
      'schemaops_runs_total{outcome="Succeeded"} 1',
      'schemaops_runs_total{outcome="Failed"} 0',
      'schemaops_step_duration_seconds_count{step="scaleDown"} 1',
      'schemaops_step_duration_seconds_count{step="migrate"} 1',
      'schemaops_step_duration_seconds_count{step="restoreWorkload"} 1',
      'schemaops_queue_depth',
      'schemaops_leader 1',
      'process_cpu_user_seconds_total',
    ]) {
      expect(metrics).toContain(series);
    }
    // The run's downtime, from the scale-down request to the workload ready, to 0.1 s: the value the histogram got.
    const downtime = (await h.kube.getSchemaMigration(f.ref))?.status?.history?.[0]?.downtimeSeconds ?? 0;
    expect(downtime).toBeGreaterThan(0);
    expect(Math.round(downtime * 10) / 10).toBe(downtime);
    expect(metrics).toContain(`schemaops_downtime_seconds_sum ${downtime}\n`);
  });

  it('converges a change made after its watches were cut, expired (410) and failed to relist (500)', async () => {
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '2_add-note' }));
    await readyAt(f, '2_add-note');
    await h.faults.expireResourceVersions();
    h.faults.failNext({ path: '/apis/schemaops.dev', status: 500, count: 3, method: 'GET' });
    h.faults.cutWatches();
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    await readyAt(f, '3_create-customers', 30_000);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
  });

  it('retries a status write that hits 409 Conflict with a fresh read', async () => {
    const f = await createFixture(h, options);
    h.faults.failNext({
      path: `/apis/schemaops.dev/v1alpha1/namespaces/${f.namespace}/schemamigrations/orders/status`,
      status: 409,
      count: 2,
      method: 'PATCH',
    });
    await createMigration(h, f, migrationSpec(options));
    await readyAt(f, '3_create-customers');
    expect(condition(await h.kube.getSchemaMigration(f.ref), 'Stalled')?.status).toBe('False');
  });

  it('writes Events for each step, with the reporting controller and instance', async () => {
    const all = await h.kc.makeApiClient(EventsV1Api).listEventForAllNamespaces({});
    // The control plane's own controllers write Events too; these are the ones about SchemaMigrations.
    const events = { items: all.items.filter((e) => e.regarding?.kind === 'SchemaMigration') };
    const reasons = new Set(events.items.map((e) => e.reason));
    for (const reason of ['ScalingDown', 'Migrating', 'Migrated', 'WorkloadRestored'])
      expect(reasons).toContain(reason);
    expect(
      events.items.every((e) => e.reportingController === 'schemaops.dev/operator' && e.reportingInstance),
    ).toBe(true);
  });

  it('never logs, records or stores a database URL or password', async () => {
    const { password } = testPostgres();
    const events = await h.kc.makeApiClient(EventsV1Api).listEventForAllNamespaces({});
    const everything = [
      ...logs,
      ...h.logs,
      JSON.stringify(events.items),
      JSON.stringify(await h.kube.listSchemaMigrations()),
    ].join('\n');
    expect(everything).not.toContain(password);
    expect(everything).not.toMatch(/postgres:\/\/[^\s"]*@/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Watch } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
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

// The operator as it runs in a cluster (its root logger, its /metrics), against the real control plane and a
// real PostgreSQL: what an SRE sees of a failed run and of a refusal.

let h: Harness;
let operator: RunningOperator;
const lines: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig(
    { kubeconfig: h.operatorKubeconfigPath, metricsAddr: '127.0.0.1:0', healthAddr: '127.0.0.1:0' },
    {},
  );
  operator = await startOperator(config, createLogger('debug', sink));
});
afterAll(async () => {
  await operator.stop();
  await h.stop();
});

type LogLine = Record<string, unknown> & { msg?: string; key?: string };
const logLines = (): LogLine[] => lines.map((line) => JSON.parse(line) as LogLine);
const linesAbout = (f: Fixture, msg: string) =>
  logLines().filter((l) => l.msg === msg && l.key === `${f.namespace}/${f.ref.name}`);

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${operator.metricsPort}/metrics`)).text();
}

/** A sample's value in the exposition text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const stalledSeries = (f: Fixture, reason: string) =>
  `schemaops_stalled{namespace="${f.namespace}",name="${f.ref.name}",reason="${reason}"}`;

/**
 * When the Deployment was asked for 0 replicas and when for its replicas again, from a watch opened before the
 * run: the time the app was down as the API server saw it.
 */
async function watchScale(
  f: Fixture,
  replicas: number,
): Promise<{ down: () => number | undefined; up: () => number | undefined; stop: () => void }> {
  let down: number | undefined;
  let up: number | undefined;
  const request = await new Watch(h.kc).watch(
    `/apis/apps/v1/namespaces/${f.namespace}/deployments`,
    { fieldSelector: 'metadata.name=orders-api' },
    (_type, deployment: { spec?: { replicas?: number } }) => {
      const wanted = deployment.spec?.replicas;
      if (wanted === 0 && down === undefined) down = Date.now();
      if (wanted === replicas && down !== undefined && up === undefined) up = Date.now();
    },
    () => undefined,
  );
  return { down: () => down, up: () => up, stop: () => request.abort() };
}

// 3 orders exist (ids 1-3) after the first file; the second waits, then inserts a duplicate key.
const failing = {
  ...files,
  '4_duplicate-order.sql': `-- Up Migration
SELECT pg_sleep(1.5);
INSERT INTO orders (id, total) VALUES (1, 99);
-- Down Migration
DELETE FROM orders WHERE id = 1 AND total = 99;
`,
};

describe('a failed run', () => {
  it('logs PostgreSQL’s error with the file and line, counts the run as Failed and records its downtime to 0.1 s', async () => {
    const options = { files: failing, workload: { kind: 'Deployment' as const, replicas: 2 } };
    const f = await createFixture(h, options);
    const failedBefore = sample(await metrics(), 'schemaops_runs_total{outcome="Failed"}') ?? 0;
    const scale = await watchScale(f, 2);
    await createMigration(h, f, migrationSpec(options));

    // While the migration sleeps the run holds the workload at 0.
    const heldSeries = `schemaops_workload_scaled_down{namespace="${f.namespace}",name="orders"}`;
    await waitFor(async () => sample(await metrics(), heldSeries) === 1, {
      what: 'the scaled-down gauge during the run',
    });
    const object = await waitFor(
      async () => {
        const o = await h.kube.getSchemaMigration(f.ref);
        return o?.status?.phase === 'Failed' && o.status.plan === undefined ? o : undefined;
      },
      { timeoutMs: 30_000, what: 'the run to fail and be settled' },
    );
    await waitFor(() => scale.up(), { what: 'the Deployment to be asked for its replicas again' });
    scale.stop();

    const [failure, ...more] = linesAbout(f, 'run failed');
    expect(more).toEqual([]);
    expect(failure).toMatchObject({
      level: 'error',
      reason: 'MigrationFailed',
      file: '4_duplicate-order.sql',
      line: 3,
      postgres: {
        sqlState: '23505',
        message: 'duplicate key value violates unique constraint "orders_pkey"',
        detail: 'Key (id)=(1) already exists.',
        table: 'orders',
        constraint: 'orders_pkey',
      },
    });
    expect(String(failure?.message)).toContain('4_duplicate-order.sql:3: duplicate key value');
    expect(String(failure?.time)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    const entry = object.status?.history?.[0];
    expect(entry).toMatchObject({ outcome: 'Failed', to: '4_duplicate-order' });
    const recorded = entry?.downtimeSeconds ?? -1;
    const measured = (scale.up()! - scale.down()!) / 1000;
    // The migration alone kept the app down 1.5 s; status says how long to a tenth, as the API server saw it.
    expect(recorded).toBeGreaterThanOrEqual(1.5);
    expect(Math.round(recorded * 10) / 10).toBe(recorded);
    expect(Math.abs(recorded - measured)).toBeLessThanOrEqual(0.3);

    const text = await waitFor(
      async () => {
        const t = await metrics();
        return sample(t, 'schemaops_runs_total{outcome="Failed"}') === failedBefore + 1 ? t : undefined;
      },
      { what: 'the failed run in schemaops_runs_total' },
    );
    expect(sample(text, 'schemaops_downtime_seconds_count')).toBe(1);
    expect(sample(text, 'schemaops_downtime_seconds_bucket{le="1"}')).toBe(0);
    expect(sample(text, 'schemaops_downtime_seconds_bucket{le="2.5"}')).toBe(recorded <= 2.5 ? 1 : 0);
    expect(sample(text, 'schemaops_downtime_seconds_sum')).toBe(recorded);
    expect(sample(text, stalledSeries(f, 'MigrationFailed'))).toBe(1);
    expect(sample(text, heldSeries)).toBeUndefined();
    expect(sample(text, 'schemaops_step_duration_seconds_count{step="scaleDown"}')).toBeGreaterThanOrEqual(1);
  });

  it('never puts the database password in its log line, even where PostgreSQL’s detail and hint carry it', async () => {
    const { password } = testPostgres();
    const leaky = {
      ...files,
      '4_raise.sql': `-- Up Migration
DO $$ BEGIN
  RAISE EXCEPTION 'refusing to migrate' USING DETAIL = 'tried ${password}', HINT = 'not ${password} again';
END $$;
-- Down Migration
`,
    };
    const f = await createFixture(h, { files: leaky });
    await createMigration(h, f, migrationSpec({ files: leaky }));
    await waitFor(async () => (await h.kube.getSchemaMigration(f.ref))?.status?.phase === 'Failed', {
      timeoutMs: 30_000,
      what: 'the run to fail',
    });
    const [failure] = await waitFor(() => {
      const found = linesAbout(f, 'run failed');
      return found.length > 0 ? found : undefined;
    });
    expect(failure).toMatchObject({
      file: '4_raise.sql',
      line: 2,
      postgres: {
        sqlState: 'P0001',
        message: 'refusing to migrate',
        detail: 'tried [redacted]',
        hint: 'not [redacted] again',
      },
    });
    expect(lines.join('\n')).not.toContain(password);
    expect(lines.join('\n')).not.toContain(f.databaseUrl);
  });
});

describe('a refusal', () => {
  it('is logged once at warn and counted once however often it is reconciled, and the stalled gauge follows it', async () => {
    const options = { files };
    const f = await createFixture(h, options);
    await createMigration(h, f, migrationSpec(options, { targetRevision: '9_does-not-exist' }));
    await waitFor(
      async () => condition(await h.kube.getSchemaMigration(f.ref), 'Stalled')?.status === 'True',
      {
        what: 'the refusal',
      },
    );
    // Each annotation change is another reconcile of the same refusal.
    const reconciled = async () =>
      sample(await metrics(), 'schemaops_reconciles_total{result="success"}') ?? 0;
    for (const n of [1, 2, 3]) {
      const before = await reconciled();
      await patchMigration(h, f, { metadata: { annotations: { 'example.com/nudge': String(n) } } });
      await waitFor(async () => (await reconciled()) > before, { what: `reconcile ${n} after the refusal` });
    }

    const refused = linesAbout(f, 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 'warn', reason: 'UnknownTarget' });
    expect(String(refused[0]?.message)).toContain('9_does-not-exist');
    let text = await metrics();
    expect(sample(text, 'schemaops_refusals_total{reason="UnknownTarget"}')).toBe(1);
    expect(sample(text, stalledSeries(f, 'UnknownTarget'))).toBe(1);

    // Fixed: the run goes, the series goes, and the run counts as Succeeded.
    const succeeded = sample(text, 'schemaops_runs_total{outcome="Succeeded"}') ?? 0;
    await patchMigration(h, f, { spec: { targetRevision: 'latest' } });
    await waitFor(async () => isReady(await h.kube.getSchemaMigration(f.ref)), {
      timeoutMs: 30_000,
      what: 'Ready at latest',
    });
    text = await waitFor(async () => {
      const t = await metrics();
      return sample(t, 'schemaops_runs_total{outcome="Succeeded"}') === succeeded + 1 ? t : undefined;
    });
    expect(sample(text, stalledSeries(f, 'UnknownTarget'))).toBeUndefined();
    expect(sample(text, 'schemaops_refusals_total{reason="UnknownTarget"}')).toBe(1);
    expect(linesAbout(f, 'refused')).toHaveLength(1);
  });
});

import { afterEach, describe, expect, it } from '@jest/globals';
import { Watch } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/v1alpha1/group.js';
import type { StoredSchemaMigration } from '../../src/kube/types.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { SQUAWK_ENV } from '../../src/sql/index.js';
import { query } from '../support/db.js';
import { waitFor } from '../support/wait.js';
import {
  condition,
  converge,
  createFixture,
  createMigration,
  deployment,
  harnessForFile,
  isReady,
  mergePatch,
  migrationSpec,
  recordPodCounts,
  recordVersions,
  type Fixture,
  type Harness,
} from './harness.js';

let h: Harness;
harnessForFile((started) => (h = started));

const createOrders = `-- Up Migration
CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total int NOT NULL);
INSERT INTO orders (total) VALUES (10), (20), (30);
-- Down Migration
DROP TABLE orders;
`;

/** Changes the running app cannot trip over: what an Auto run applies with the app up. */
const additive: Record<string, string> = {
  '2_add-note.sql': `-- Up Migration
ALTER TABLE orders ADD COLUMN note text;
ALTER TABLE orders ADD COLUMN state text DEFAULT 'new';
ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0) NOT VALID;
-- Down Migration
ALTER TABLE orders DROP CONSTRAINT total_positive, DROP COLUMN state, DROP COLUMN note;
`,
  '3_validate-total.sql': `-- schemaops: no-transaction
-- Up Migration
ALTER TABLE orders VALIDATE CONSTRAINT total_positive;
-- Down Migration
`,
  '4_index-note.sql': `-- schemaops: no-transaction
-- Up Migration
CREATE INDEX CONCURRENTLY orders_note ON orders (note);
-- Down Migration
DROP INDEX CONCURRENTLY orders_note;
`,
  '5_create-tags.sql': `-- Up Migration
CREATE TABLE tags (id bigint PRIMARY KEY, name text NOT NULL);
CREATE INDEX tags_name ON tags (name);
-- Down Migration
DROP TABLE tags;
`,
};

/** An index built without CONCURRENTLY blocks the app's writes: squawk says so. */
const blocking: Record<string, string> = {
  '2_index-total.sql': `-- Up Migration
CREATE INDEX orders_total ON orders (total);
-- Down Migration
DROP INDEX orders_total;
`,
};

const workload = { kind: 'Deployment' as const, replicas: 3 };

/** The fixture with its database at 1_create-orders (the first run under Always), the app at 3 ready replicas. */
async function ordersInUse(): Promise<Fixture> {
  const f = await createFixture(h, { files: { '1_create-orders.sql': createOrders }, workload, pvc: true });
  await createMigration(h, f, migrationSpec({ files: {}, workload, pvc: true }));
  await converge(h, f, isReady, { timeoutMs: 60_000 });
  await waitFor(async () => (await deployment(h, f))?.availableReplicas === 3, { what: 'the app serving' });
  return f;
}

async function shipFiles(f: Fixture, files: Record<string, string>): Promise<void> {
  await h.core.patchNamespacedConfigMap(
    { name: 'orders-migrations', namespace: f.namespace, body: { data: files } },
    mergePatch,
  );
}

async function setScaleDown(f: Fixture, scaleDown: 'Always' | 'Auto'): Promise<void> {
  await h.custom.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: f.namespace,
      plural: PLURAL,
      name: f.ref.name,
      body: { spec: { workload: { kind: 'Deployment', name: 'orders-api', scaleDown } } },
    },
    mergePatch,
  );
}

interface DeploymentSeen {
  replicas: number | undefined;
  readyReplicas: number;
}

/** Every state of the app's Deployment the API server stored, from a watch opened before the change. */
async function watchDeployment(f: Fixture): Promise<{ seen: () => DeploymentSeen[]; stop: () => void }> {
  const seen: DeploymentSeen[] = [];
  const request = await new Watch(h.kc).watch(
    `/apis/apps/v1/namespaces/${f.namespace}/deployments`,
    { fieldSelector: 'metadata.name=orders-api' },
    (_type, d: { spec?: { replicas?: number }; status?: { readyReplicas?: number } }) => {
      seen.push({ replicas: d.spec?.replicas, readyReplicas: d.status?.readyReplicas ?? 0 });
    },
    () => undefined,
  );
  await waitFor(() => seen.length > 0, { what: 'the watch to list the Deployment' });
  return { seen: () => [...seen], stop: () => request.abort() };
}

/** Every stored version of the SchemaMigration, from a watch opened before the change and listing it. */
async function watchMigration(
  f: Fixture,
): Promise<{ seen: () => StoredSchemaMigration[]; stop: () => void }> {
  const versions = await recordVersions(h, f);
  await waitFor(() => versions.seen().length > 0, { what: 'the watch to list the SchemaMigration' });
  return versions;
}

/** The last status.plan.online the run recorded, and the WorkloadScaledDown reasons from its start on. */
function decisions(objects: readonly StoredSchemaMigration[]) {
  const run = objects.slice(
    Math.max(
      0,
      objects.findIndex((o) => o.status?.plan?.startedAt),
    ),
  );
  const online = run.flatMap((o) => (o.status?.plan?.online ? [o.status.plan.online] : [])).at(-1);
  const reasons = run.flatMap((o) => {
    const c = condition(o, 'WorkloadScaledDown');
    return c ? [c.reason] : [];
  });
  return { online, reasons: reasons.filter((r, i) => r !== reasons[i - 1]) };
}

/** Pod counts once all 3 pods were listed: the watch adds the existing pods one by one. */
const afterListing = (counts: readonly number[]) => counts.slice(Math.max(0, counts.indexOf(3)));

/** Runs the change with watches on the Deployment, its pods and the SchemaMigration opened before it. */
async function runWatched(f: Fixture, files: Record<string, string>) {
  const app = await watchDeployment(f);
  const pods = await recordPodCounts(h, f);
  const smig = await watchMigration(f);
  try {
    await shipFiles(f, files);
    await converge(h, f, (o) => isReady(o) && o?.status?.currentRevision !== '1_create-orders', {
      timeoutMs: 60_000,
    });
    await waitFor(async () => (await deployment(h, f))?.availableReplicas === 3, { what: 'the app serving' });
    const object = await h.kube.getSchemaMigration(f.ref);
    return { app: app.seen(), pods: pods.counts(), smig: smig.seen(), object };
  } finally {
    app.stop();
    pods.stop();
    smig.stop();
  }
}

const saved = process.env[SQUAWK_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[SQUAWK_ENV];
  else process.env[SQUAWK_ENV] = saved;
});

describe('workload.scaleDown: Auto', () => {
  it('applies an additive plan with every replica up and serving, after the backup, and says why', async () => {
    const f = await ordersInUse();
    await setScaleDown(f, 'Auto');

    const run = await runWatched(f, additive);

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('5_create-tags');
    const [index] = await query(
      f.databaseUrl,
      "SELECT indisvalid FROM pg_index WHERE indexrelid = 'orders_note'::regclass",
    );
    expect(index).toEqual({ indisvalid: true });
    // The app: never asked to scale, never fewer than 3 ready replicas, no pod deleted.
    expect(run.app.length).toBeGreaterThan(0);
    expect(run.app.every((d) => d.replicas === 3)).toBe(true);
    expect(Math.min(...run.app.map((d) => d.readyReplicas))).toBe(3);
    expect(afterListing(run.pods)).toContain(3);
    expect(afterListing(run.pods).every((n) => n >= 3)).toBe(true);
    // Status: the rule that decided, the condition that says the app stayed up, no downtime in history.
    const { online, reasons } = decisions(run.smig);
    expect(online).toEqual({ online: true, rule: 'additive', reason: expect.stringMatching(/only add/) });
    expect(reasons).toEqual(['OnlineSafe']);
    expect(condition(run.object, 'WorkloadScaledDown')).toMatchObject({
      status: 'False',
      reason: 'OnlineSafe',
      message: expect.stringMatching(/^additive: /),
    });
    const [entry] = run.object?.status?.history ?? [];
    expect(entry).toMatchObject({ from: '1_create-orders', to: '5_create-tags', outcome: 'Succeeded' });
    expect(entry).not.toHaveProperty('downtimeSeconds');
    expect(entry?.backupFile).toEqual(expect.any(String));
    expect(run.object?.metadata.finalizers ?? []).toEqual([]);
  });

  it('scales down a plan that is not safe online, naming the squawk rule', async () => {
    const f = await ordersInUse();
    await setScaleDown(f, 'Auto');

    const run = await runWatched(f, blocking);

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('2_index-total');
    expect(run.app.some((d) => d.replicas === 0)).toBe(true);
    const { online, reasons } = decisions(run.smig);
    expect(online).toEqual({
      online: false,
      rule: 'squawk:require-concurrent-index-creation',
      reason: expect.stringMatching(/^2_index-total\.sql:2: /),
    });
    expect(reasons.slice(0, 2)).toEqual(['NotOnlineSafe', 'ScaledDown']);
    expect(run.object?.status?.history?.[0]?.downtimeSeconds).toEqual(expect.any(Number));
  });

  it('scales down when the linter cannot be found, and says so', async () => {
    const f = await ordersInUse();
    await setScaleDown(f, 'Auto');
    process.env[SQUAWK_ENV] = '/nonexistent/squawk';

    const run = await runWatched(f, additive);

    expect(run.app.some((d) => d.replicas === 0)).toBe(true);
    const { online, reasons } = decisions(run.smig);
    expect(online).toEqual({
      online: false,
      rule: 'squawk-unavailable',
      reason: expect.stringContaining(`${SQUAWK_ENV}=/nonexistent/squawk`),
    });
    expect(reasons.slice(0, 2)).toEqual(['NotOnlineSafe', 'ScaledDown']);
  });
});

describe('workload.scaleDown: Always (the default)', () => {
  it('still scales down an additive plan, and records no online decision', async () => {
    const f = await ordersInUse();

    const run = await runWatched(f, additive);

    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('5_create-tags');
    expect(run.app.some((d) => d.replicas === 0)).toBe(true);
    expect(decisions(run.smig).online).toBeUndefined();
    // The API server stores the CRD's default.
    expect((await h.kube.getSchemaMigration(f.ref))?.spec).toMatchObject({
      workload: { scaleDown: 'Always' },
    });
  });
});

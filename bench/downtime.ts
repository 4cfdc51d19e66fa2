// Measures the downtime window of a run on the local control plane with a real PostgreSQL: from the scale-down
// request (status.plan.scaleDownAt) until the workload is seen ready again (status.plan.workloadReadyAt), split
// into its parts: the pods stopping, the backup Job (pg_dump), the migration SQL, the pods starting, and what is
// left, the operator's own share. Each database size is filled with incompressible rows; the plan adds a nullable
// column and a small table. Every part is printed against the same run's SQL time and against pg_dump alone on
// the same database (timed by this bench, as the backup Job runs it).
//
//   node --import ./scripts/register-ts.js bench/downtime.ts [--sizes 10,200,1000] [--runs 3] [--modes Always,Auto]
//
// Sizes are in MB; BENCH_DOWNTIME_SIZES sets them too. The operator runs as a child process (the bundle that
// scripts/bundle.ts writes, as the image runs it).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import pg from 'pg';
import { onCleanup, runBenchmark } from './entry.js';
import { BUNDLE, spawnOperator, waitReady, type OperatorProcess } from './support/operator.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/v1alpha1/group.js';
import { bundle } from '../scripts/bundle.js';
import { startLocalCluster } from '../src/localcluster/index.js';
import { startPostgres } from '../src/localcluster/postgres.js';
import { migrateToTarget } from '../src/migrations/engine.js';
import { findSquawk, SQUAWK_ENV } from '../src/sql/squawk.js';
import { applyShippedCrd } from '../test/localcluster/support.js';

const REPLICAS = 2;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const BASE_MIGRATION = [
  '-- Up Migration',
  'CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, placed_at timestamptz NOT NULL,',
  '  status text NOT NULL, address text NOT NULL, payload bytea NOT NULL);',
  'CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text NOT NULL);',
  '-- Down Migration',
  'DROP TABLE customers;',
  'DROP TABLE orders;',
  '',
].join('\n');

/** Rows in the small table each run alters, next to `orders`, which holds nearly all of the database. */
const CUSTOMERS = 5_000;

/**
 * The plan each run applies: a nullable column on the small table and a new table, an Up plan that needs no
 * approval. It leaves `orders` alone, so the backup while down holds `customers` and the migrations table only.
 */
function runMigration(n: number): string {
  return [
    '-- Up Migration',
    `ALTER TABLE customers ADD COLUMN note_${n} text;`,
    `CREATE TABLE customer_tags_${n} (customer_id int NOT NULL, tag text NOT NULL, PRIMARY KEY (customer_id, tag));`,
    '-- Down Migration',
    `DROP TABLE customer_tags_${n};`,
    `ALTER TABLE customers DROP COLUMN note_${n};`,
    '',
  ].join('\n');
}
const revisionOf = (n: number) => `${n + 1}_run-${n}`;

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly modes: readonly string[];
  readonly podReadyMs: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: 'string', default: process.env.BENCH_DOWNTIME_SIZES ?? '10' },
      runs: { type: 'string', default: '3' },
      modes: { type: 'string', default: 'Always,Auto' },
      'pod-ready-ms': { type: 'string', default: '200' },
    },
    strict: true,
  });
  const sizes = values.sizes.split(',').map(Number);
  if (sizes.some((s) => !Number.isFinite(s) || s < 1))
    throw new Error(`--sizes must be sizes in MB, e.g. 10,200,1000; got "${values.sizes}"`);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  const modes = values.modes.split(',');
  const unknown = modes.filter((m) => m !== 'Always' && m !== 'Auto');
  if (unknown.length > 0) throw new Error(`--modes takes Always and Auto, not ${unknown.join(', ')}`);
  const podReadyMs = Number(values['pod-ready-ms']);
  if (!Number.isInteger(podReadyMs) || podReadyMs < 0)
    throw new Error(`--pod-ready-ms must be a whole number of milliseconds, got "${values['pod-ready-ms']}"`);
  return { sizes, runs, modes, podReadyMs };
}

// ---------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------
// The database: filled with incompressible rows to about the size asked for.

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** About 600 bytes a row: a random 256-byte payload (bytea, incompressible), an address and a status. */
const FILL = `INSERT INTO orders (customer_id, placed_at, status, address, payload)
SELECT (random() * 100000)::int, now() - random() * interval '365 days',
  (ARRAY['placed', 'paid', 'shipped', 'delivered'])[1 + (random() * 3)::int],
  md5(random()::text) || ' ' || md5(random()::text) || ' street ' || (random() * 999)::int,
  decode(${Array.from({ length: 16 }, () => 'md5(random()::text)').join(' || ')}, 'hex')
FROM generate_series(1, $1)`;

async function fill(url: string, megabytes: number): Promise<number> {
  await migrateToTarget({ databaseUrl: url }, { '1_create-orders.sql': BASE_MIGRATION }, { kind: 'latest' });
  return withClient(url, async (client) => {
    const size = async () =>
      Number(
        (await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]?.n,
      );
    const target = megabytes * 1024 * 1024;
    for (let current = await size(); current < target; current = await size()) {
      const rows = Math.max(1000, Math.min(200_000, Math.ceil((target - current) / 700)));
      await client.query(FILL, [rows]);
    }
    await client.query(
      `INSERT INTO customers (name, email) SELECT md5(random()::text), md5(random()::text) || '@example.com'
       FROM generate_series(1, $1)`,
      [CUSTOMERS],
    );
    await client.query('VACUUM ANALYZE orders, customers');
    return (await size()) / 1024 / 1024;
  });
}

/** pg_dump alone, as the backup Job runs it (custom format, gzip level 1 before PostgreSQL 16), in seconds. */
async function pgDumpAlone(url: string, dir: string): Promise<number> {
  const parsed = new URL(url);
  // The connection goes through the environment, never argv.
  const env = {
    ...process.env,
    PGHOST: parsed.hostname,
    PGPORT: parsed.port,
    PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password),
    PGDATABASE: parsed.pathname.slice(1),
  };
  const file = join(dir, 'alone.dump');
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('pg_dump', ['--format=custom', '--compress=1', '--no-password', '--file', file], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`pg_dump exited ${code}: ${stderr}`)),
    );
  });
  const seconds = (performance.now() - started) / 1000;
  await rm(file, { force: true });
  return seconds;
}

async function sessionsOf(adminUrl: string, database: string): Promise<number> {
  return withClient(adminUrl, async (client) => {
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ n: number }>(
      'SELECT coalesce(sum(sessions), 0)::int AS n FROM pg_stat_database WHERE datname = $1',
      [database],
    );
    return rows[0]?.n ?? 0;
  });
}

// ---------------------------------------------------------------------------------------------------
// The operator, as a child process.

/** The operator, ready, with squawk from the squawk-cli package (the image's SCHEMAOPS_SQUAWK is not here). */
async function startOperator(kubeconfigPath: string): Promise<OperatorProcess> {
  const squawk = findSquawk({});
  if ('missing' in squawk) throw new Error(`squawk is needed for scaleDown: Auto: ${squawk.missing}`);
  const op = await spawnOperator(kubeconfigPath, { env: { [SQUAWK_ENV]: squawk.path } });
  await waitReady(op, 60_000);
  return op;
}

/** The SQL time the operator measured so far (the migrate step's executePlan), in seconds. */
async function sqlSeconds(op: OperatorProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('schemaops_migration_duration_seconds_sum{direction="Up"}'));
  return Number(line?.split(' ').pop() ?? 0);
}

// ---------------------------------------------------------------------------------------------------
// What happened, from watches of the namespace: each event with the time this process saw it.

/** The fields of Pods, Deployments, Jobs and SchemaMigrations this bench reads. */
interface Viewed {
  metadata?: { name?: string; labels?: Record<string, string>; generation?: number };
  spec?: { replicas?: number };
  status?: {
    phase?: string;
    conditions?: { type?: string; status?: string; reason?: string }[];
    availableReplicas?: number;
    readyReplicas?: number;
    observedGeneration?: number;
    currentRevision?: string;
    plan?: {
      scaleDownAt?: string;
      workloadReadyAt?: string;
      backupJob?: string;
      tablesBackupJob?: string;
      online?: { online: boolean; rule: string; reason: string };
    } | null;
    history?: { downtimeSeconds?: number }[];
  };
}

interface Seen {
  readonly at: number;
  readonly kind: 'pod' | 'deployment' | 'job' | 'migration';
  readonly type: string;
  readonly object: Viewed;
}

const readyReason = (object: Viewed) => object.status?.conditions?.find((c) => c.type === 'Ready')?.reason;

const isTrue = (status: Viewed['status'], type: string) =>
  (status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

async function follow(kc: KubeConfig, namespace: string, timeline: Seen[]): Promise<() => void> {
  const paths = {
    pod: `/api/v1/namespaces/${namespace}/pods`,
    deployment: `/apis/apps/v1/namespaces/${namespace}/deployments`,
    job: `/apis/batch/v1/namespaces/${namespace}/jobs`,
    migration: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
  } as const;
  const watch = new Watch(kc);
  const requests = new Map<string, { abort(): void }>();
  let stopped = false;
  // A watch the server or the client ends is opened again; its first events repeat what is there (ADDED).
  const open = async (kind: keyof typeof paths): Promise<void> => {
    const request = await watch.watch(
      paths[kind],
      {},
      (type, object: Viewed) => timeline.push({ at: Date.now(), kind, type, object }),
      () => {
        if (!stopped) void open(kind).catch(() => undefined);
      },
    );
    requests.set(kind, request);
  };
  await Promise.all((Object.keys(paths) as (keyof typeof paths)[]).map(open));
  return () => {
    stopped = true;
    requests.forEach((r) => r.abort());
  };
}

/** A run that scaled the app down: the window and its parts, in seconds. */
interface WindowFigures {
  window: number;
  downtimeSeconds: number;
  podStop: number;
  /** The backup Job while down (the touched tables): created → its pod ended. */
  dump: number;
  sql: number;
  podStart: number;
  overhead: number;
  /** The overhead's parts: last pod gone → backup Job created; its pod ended → Migrating in status. */
  toBackup: number;
  toSql: number;
  /** Migrating in status → the Deployment asked for its replicas again, the SQL time taken out. */
  toScaleUp: number;
  /** All replicas available → the operator saw it (status.plan.workloadReadyAt). */
  toSeen: number;
  /** The backup pod's end → the Job marked Complete (the operator does not wait for it), when seen. */
  jobMarked?: number;
  /** The whole backup while the app still ran, before the window: created → its pod ended. */
  fullBackup: number;
  /** The whole backup's pod ended → the scale-down asked (status.plan.scaleDownAt), before the window. */
  toScaleDown: number;
  /** targetRevision set → Ready at it. */
  total: number;
  statusWrites: number;
  sessions: number;
  /** Under Auto: the rule that decided to scale down, and why. */
  online?: string;
}

/** A run that kept the app up (scaleDown: Auto, a plan safe online). */
interface OnlineFigures {
  /** The fewest ready replicas the Deployment reported during the run. */
  minReady: number;
  fullBackup: number;
  sql: number;
  total: number;
  sessions: number;
}

type RunFigures = ({ kind: 'window' } & WindowFigures) | ({ kind: 'online' } & OnlineFigures);

const isAppPod = (s: Seen) => s.kind === 'pod' && s.object.metadata?.labels?.app === 'orders-api';

/** When the last pod of the app was gone after `from` (undefined if one never went). */
function podsGoneAt(timeline: readonly Seen[], from: number): number | undefined {
  const alive = new Set<string>();
  let gone: number | undefined;
  for (const s of timeline.filter(isAppPod)) {
    const name = String(s.object.metadata?.name);
    if (s.type === 'DELETED') alive.delete(name);
    else alive.add(name);
    if (s.at >= from && s.type === 'DELETED' && alive.size === 0 && gone === undefined) gone = s.at;
  }
  return gone;
}

/**
 * A Job's creation, its pod's end (Succeeded, as seen) and its Complete condition, by name (a run has up to two
 * backup Jobs). The Job controller marks the Job Complete up to a second after its pod ended.
 */
function jobTimes(
  timeline: readonly Seen[],
  name: string | undefined,
): { created?: number; podEnded?: number; complete?: number } {
  const jobs = timeline.filter(
    (s) => s.kind === 'job' && name !== undefined && s.object.metadata?.name === name,
  );
  const created = jobs.find((s) => s.type === 'ADDED')?.at;
  const complete = jobs.find((s) => isTrue(s.object.status, 'Complete'))?.at;
  const podEnded = timeline.find(
    (s) =>
      s.kind === 'pod' &&
      name !== undefined &&
      s.object.metadata?.labels?.['job-name'] === name &&
      s.object.status?.phase === 'Succeeded',
  )?.at;
  return { created, podEnded, complete };
}

/** When the Job's work ended: its pod's end, or the Job's Complete if that was seen first. */
const workEnded = (t: { podEnded?: number; complete?: number }): number | undefined =>
  t.podEnded === undefined || t.complete === undefined
    ? (t.podEnded ?? t.complete)
    : Math.min(t.podEnded, t.complete);

/** The fewest ready replicas the Deployment reported from `from` on (its last state before `from` included). */
function minReadyReplicas(timeline: readonly Seen[], from: number): number {
  const events = timeline.filter((s) => s.kind === 'deployment');
  const before = events.filter((s) => s.at < from).pop();
  const during = events.filter((s) => s.at >= from);
  return Math.min(
    ...[...(before ? [before] : []), ...during].map((s) => s.object.status?.readyReplicas ?? 0),
  );
}

/** The Deployment asked for its replicas again, then all of them available. */
function scaleUpTimes(timeline: readonly Seen[], from: number): { asked?: number; available?: number } {
  const events = timeline.filter((s) => s.kind === 'deployment' && s.at >= from);
  const asked = events.find((s) => s.object.spec?.replicas === REPLICAS)?.at;
  const available = events.find(
    (s) =>
      asked !== undefined &&
      s.at >= asked &&
      s.object.spec?.replicas === REPLICAS &&
      (s.object.status?.availableReplicas ?? 0) >= REPLICAS &&
      (s.object.status?.observedGeneration ?? 0) >= (s.object.metadata?.generation ?? 0),
  )?.at;
  return { asked, available };
}

/**
 * The run's plan timestamps and backup Job names, and how many status writes fell in the window (a status that
 * changed).
 */
function statusTimes(timeline: readonly Seen[], from: number) {
  let scaleDownAt: string | undefined;
  let workloadReadyAt: string | undefined;
  let backupJob: string | undefined;
  let tablesBackupJob: string | undefined;
  let online: string | undefined;
  let writes = 0;
  let previous = '';
  for (const s of timeline.filter((e) => e.kind === 'migration' && e.at >= from)) {
    const status = JSON.stringify(s.object.status ?? {});
    const plan = s.object.status?.plan;
    const changed = status !== previous;
    previous = status;
    backupJob ??= plan?.backupJob;
    tablesBackupJob ??= plan?.tablesBackupJob;
    if (plan?.online) online = `${plan.online.rule}: ${plan.online.reason}`;
    if (scaleDownAt === undefined && plan?.scaleDownAt) {
      scaleDownAt = plan.scaleDownAt;
      writes++; // the write that opens the window
    } else if (changed && scaleDownAt !== undefined && workloadReadyAt === undefined) writes++;
    if (scaleDownAt !== undefined && plan?.workloadReadyAt) workloadReadyAt ??= plan.workloadReadyAt;
  }
  return { scaleDownAt, workloadReadyAt, backupJob, tablesBackupJob, online, writes };
}

// ---------------------------------------------------------------------------------------------------
// One size, one mode: a namespace, a Deployment of 2, a backup PVC, a SchemaMigration, and `runs` runs.

interface Scenario {
  readonly kc: KubeConfig;
  readonly op: OperatorProcess;
  readonly adminUrl: string;
  readonly databaseUrl: string;
  readonly namespace: string;
  /** spec.workload.scaleDown, when the CRD has it. */
  mode?: string;
}

const workloadSpec = (s: Scenario) => ({
  kind: 'Deployment',
  name: 'orders-api',
  ...(s.mode === undefined ? {} : { scaleDown: s.mode }),
});

async function setUp(s: Scenario): Promise<void> {
  const core = s.kc.makeApiClient(CoreV1Api);
  const { namespace } = s;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'orders-db' }, stringData: { url: s.databaseUrl } },
  });
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'orders-migrations' }, data: { '1_create-orders.sql': BASE_MIGRATION } },
  });
  await core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name: 'orders-backups' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } },
    },
  });
  const labels = { app: 'orders-api' };
  await s.kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'orders-api' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'orders-api:1' }] } },
      },
    },
  });
  await s.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name: 'orders' },
      spec: {
        targetRevision: '1_create-orders',
        database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
        migrations: { configMaps: [{ name: 'orders-migrations' }] },
        workload: workloadSpec(s),
        backup: { pvc: 'orders-backups', image: 'postgres:16', retain: 2 },
        timeouts: { backup: '1h' },
      },
    },
  });
  await waitForRevision(s, '1_create-orders');
}

async function migrationStatus(s: Scenario): Promise<Viewed['status']> {
  const object = (await s.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: s.namespace,
    plural: PLURAL,
    name: 'orders',
  })) as Viewed;
  return object.status;
}

async function waitForRevision(s: Scenario, revision: string): Promise<void> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const status = await migrationStatus(s);
    if (isTrue(status, 'Ready') && status?.currentRevision === revision && !status.plan) return;
    if (status?.phase === 'Failed') throw new Error(`the run failed: ${JSON.stringify(status.conditions)}`);
    if (Date.now() > deadline) throw new Error(`not Ready at ${revision} within 30 min:\n${s.op.output()}`);
    await sleep(50);
  }
}

async function oneRun(s: Scenario, n: number, timeline: Seen[]): Promise<RunFigures | string> {
  const core = s.kc.makeApiClient(CoreV1Api);
  const custom = s.kc.makeApiClient(CustomObjectsApi);
  const database = new URL(s.databaseUrl).pathname.slice(1);
  const sessionsBefore = await sessionsOf(s.adminUrl, database);
  const sqlBefore = await sqlSeconds(s.op);
  await core.patchNamespacedConfigMap(
    {
      namespace: s.namespace,
      name: 'orders-migrations',
      body: { data: { [`${revisionOf(n)}.sql`]: runMigration(n) } },
    },
    mergePatch,
  );
  const from = Date.now();
  await custom.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: s.namespace,
      plural: PLURAL,
      name: 'orders',
      body: { spec: { targetRevision: revisionOf(n), workload: workloadSpec(s) } },
    },
    mergePatch,
  );
  await waitForRevision(s, revisionOf(n));
  const done = Date.now();
  const sql = (await sqlSeconds(s.op)) - sqlBefore;
  const status = await migrationStatus(s);
  const times = statusTimes(timeline, from);
  const full = jobTimes(timeline, times.backupJob);
  const fullEnded = workEnded(full);
  if (full.created === undefined || fullEnded === undefined) return 'missing the whole backup Job';
  const fullBackup = (fullEnded - full.created) / 1000;
  const total = (done - from) / 1000;
  // Every session of the run is closed by now; the statistics are flushed within a second of it.
  const sessionsAfter = async () => {
    await sleep(1_100);
    return (await sessionsOf(s.adminUrl, database)) - sessionsBefore;
  };
  if (!times.scaleDownAt) {
    const minReady = minReadyReplicas(timeline, from);
    return { kind: 'online', minReady, fullBackup, sql, total, sessions: await sessionsAfter() };
  }
  if (!times.workloadReadyAt) return 'no status.plan.workloadReadyAt seen';
  const downtimeSeconds = Number(status?.history?.[0]?.downtimeSeconds ?? 0);
  const start = Date.parse(times.scaleDownAt);
  const end = Date.parse(times.workloadReadyAt);
  const gone = podsGoneAt(timeline, from);
  const job = jobTimes(timeline, times.tablesBackupJob);
  const ended = workEnded(job);
  const up = scaleUpTimes(timeline, ended ?? from);
  if (gone === undefined || job.created === undefined || ended === undefined)
    return 'missing events of the pods or the backup Job while down';
  if (up.asked === undefined || up.available === undefined) return 'missing Deployment events';
  const migrating = timeline.find(
    (e) => e.kind === 'migration' && e.at >= ended && readyReason(e.object) === 'Migrating',
  )?.at;
  if (migrating === undefined) return 'missing the Migrating status';
  const window = (end - start) / 1000;
  const podStop = (gone - start) / 1000;
  const dump = (ended - job.created) / 1000;
  const podStart = (up.available - up.asked) / 1000;
  const sessions = await sessionsAfter();
  // The Job controller marks the Job a second or so after its pod ended: after the run, often; looked at again now.
  const marked = jobTimes(timeline, times.tablesBackupJob);
  return {
    kind: 'window',
    window,
    downtimeSeconds,
    podStop,
    dump,
    sql,
    podStart,
    overhead: window - podStop - dump - sql - podStart,
    toBackup: (job.created - gone) / 1000,
    toSql: (migrating - ended) / 1000,
    ...(marked.complete !== undefined && marked.podEnded !== undefined
      ? { jobMarked: (marked.complete - marked.podEnded) / 1000 }
      : {}),
    toScaleUp: (up.asked - migrating) / 1000 - sql,
    toSeen: (end - up.available) / 1000,
    fullBackup,
    toScaleDown: (start - fullEnded) / 1000,
    total,
    statusWrites: times.writes,
    sessions,
    ...(times.online ? { online: times.online } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// The report.

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The operator's own share of the window, beyond the dump while down, the SQL and the pods stopping and starting. */
const OVERHEAD_TARGET = 0.25;

function reportWindow(label: string, runs: readonly WindowFigures[], dumpAlone: number): void {
  const m = (key: Exclude<keyof WindowFigures, 'online' | 'jobMarked'>) => median(runs.map((r) => r[key]));
  const sql = m('sql');
  console.log(`\n${label}, median of ${runs.length} run(s):`);
  console.log('  part                             seconds    x SQL  x pg_dump alone');
  const line = (name: string, value: number) =>
    console.log(
      `  ${name.padEnd(32)} ${value.toFixed(3).padStart(7)} ${(value / sql).toFixed(1).padStart(7)}x ${(value / dumpAlone).toFixed(2).padStart(8)}x`,
    );
  line('window (app at 0)', m('window'));
  line('  pods stopping', m('podStop'));
  line('  backup Job while down (tables)', m('dump'));
  line('  migration SQL', sql);
  line('  pods starting', m('podStart'));
  line('  operator overhead', m('overhead'));
  line('    pods gone -> Job created', m('toBackup'));
  line('    its pod ended -> Migrating', m('toSql'));
  line('    Migrating -> scale-up', m('toScaleUp'));
  line('    available -> seen ready', m('toSeen'));
  const marked = runs.flatMap((r) => (r.jobMarked === undefined ? [] : [r.jobMarked]));
  if (marked.length > 0) line('  (pod ended -> Job marked Complete)', median(marked));
  line('whole backup Job (app up)', m('fullBackup'));
  line('  its pod ended -> scale-down', m('toScaleDown'));
  line('run (target set -> Ready)', m('total'));
  line('pg_dump alone (whole database)', dumpAlone);
  const overhead = m('overhead');
  const verdict = overhead <= OVERHEAD_TARGET ? 'meets' : 'MISSES';
  console.log(
    `  window <= tables dump + SQL + pods + ${OVERHEAD_TARGET} s: overhead ${overhead.toFixed(3)} s, ${verdict} the target; ` +
      `worst run ${Math.max(...runs.map((r) => r.overhead)).toFixed(3)} s`,
  );
  console.log(
    `  status.history downtimeSeconds ${m('downtimeSeconds').toFixed(1)}; status writes in the window ` +
      `${m('statusWrites')}; database sessions per run ${m('sessions')} (the backup Jobs' included)`,
  );
}

function reportOnline(label: string, runs: readonly OnlineFigures[], dumpAlone: number): void {
  const m = (key: keyof OnlineFigures) => median(runs.map((r) => r[key]));
  const fewest = Math.min(...runs.map((r) => r.minReady));
  console.log(`\n${label}, median of ${runs.length} run(s): no scale-down`);
  console.log(
    `  fewest ready replicas during the runs: ${fewest} of ${REPLICAS} (${fewest === REPLICAS ? 'kept up' : 'NOT kept up'})`,
  );
  console.log(`  window (app at 0)                  0.000`);
  console.log(`  migration SQL                    ${m('sql').toFixed(3).padStart(7)}`);
  console.log(
    `  whole backup Job (app up)        ${m('fullBackup').toFixed(3).padStart(7)}   ${(m('fullBackup') / dumpAlone).toFixed(2)}x pg_dump alone`,
  );
  console.log(`  run (target set -> Ready)        ${m('total').toFixed(3).padStart(7)}`);
  console.log(`  database sessions per run ${m('sessions')} (the backup Job's included)`);
}

async function autoSupported(kc: KubeConfig): Promise<boolean> {
  const crd = await kc
    .makeApiClient(ApiextensionsV1Api)
    .readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
  const version = crd.spec.versions.find((v) => v.name === VERSION);
  const workload = version?.schema?.openAPIV3Schema?.properties?.spec?.properties?.workload;
  return workload?.properties?.scaleDown !== undefined;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`bundling ${BUNDLE}`);
  for (const warning of await bundle(BUNDLE)) console.log(`bundle warning: ${warning}`);
  const server = await startPostgres();
  onCleanup('PostgreSQL', () => server.stop());
  const cluster = await startLocalCluster({ podReadyDelayMs: options.podReadyMs });
  onCleanup('the local control plane', () => cluster.stop());
  const dir = await mkdtemp(join(tmpdir(), 'schemaops-bench-downtime-'));
  onCleanup('the temporary directory', () => rm(dir, { recursive: true, force: true }));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, cluster.kubeconfig(), { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  await applyShippedCrd(cluster.kubeconfig());
  const op = await startOperator(kubeconfigPath);
  const auto = await autoSupported(kc);
  console.log(
    `bench/downtime: sizes ${options.sizes.join(', ')} MB, ${options.runs} run(s) each, modes ${options.modes.join(', ')}, ` +
      `pods ready ${options.podReadyMs} ms after start, Node ${process.version}`,
  );
  for (const size of options.sizes) await measureSize(options, { kc, op, server, dir, auto }, size);
}

interface Bench {
  readonly kc: KubeConfig;
  readonly op: OperatorProcess;
  readonly server: { url(): string; createDatabase(prefix: string): Promise<string> };
  readonly dir: string;
  readonly auto: boolean;
}

/** One database of the size, one SchemaMigration on it; its runs in each mode, one after the other. */
async function measureSize(options: Options, bench: Bench, size: number): Promise<void> {
  const databaseUrl = await bench.server.createDatabase(`bench_downtime_${size}`);
  const filled = performance.now();
  const actual = await fill(databaseUrl, size);
  console.log(
    `\n${size} MB: filled to ${actual.toFixed(0)} MB in ${((performance.now() - filled) / 1000).toFixed(1)} s`,
  );
  const dumpAlone = await pgDumpAlone(databaseUrl, bench.dir);
  const s: Scenario = {
    kc: bench.kc,
    op: bench.op,
    adminUrl: bench.server.url(),
    databaseUrl,
    namespace: `downtime-${size}`,
    ...(bench.auto ? { mode: 'Always' } : {}),
  };
  const timeline: Seen[] = [];
  const stop = await follow(bench.kc, s.namespace, timeline);
  let n = 0;
  try {
    await setUp(s);
    for (const mode of options.modes) {
      if (mode === 'Auto' && !bench.auto) {
        console.log('  Auto: skipped: the CRD has no spec.workload.scaleDown yet');
        continue;
      }
      if (bench.auto) s.mode = mode;
      const runs: RunFigures[] = [];
      for (let run = 1; run <= options.runs; run++) {
        const figures = await oneRun(s, ++n, timeline);
        if (typeof figures === 'string') console.log(`  ${mode} run ${run}: ${figures}`);
        else {
          runs.push(figures);
          console.log(
            figures.kind === 'window'
              ? `  ${mode} run ${run}: window ${figures.window.toFixed(3)} s, overhead ${figures.overhead.toFixed(3)} s, ` +
                  `${figures.statusWrites} status writes, ${figures.sessions} sessions` +
                  (figures.online ? `; scaled down by ${figures.online}` : '')
              : `  ${mode} run ${run}: no scale-down, fewest ready ${figures.minReady}/${REPLICAS}, run ${figures.total.toFixed(3)} s`,
          );
        }
      }
      const label = `${actual.toFixed(0)} MB, scaleDown ${mode}`;
      const windows = runs.flatMap((r) => (r.kind === 'window' ? [r] : []));
      const online = runs.flatMap((r) => (r.kind === 'online' ? [r] : []));
      if (windows.length > 0) reportWindow(label, windows, dumpAlone);
      if (online.length > 0) reportOnline(label, online, dumpAlone);
    }
  } finally {
    stop();
  }
}

await runBenchmark('bench/downtime', main);

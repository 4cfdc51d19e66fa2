// Runs `schemaops operator` as a child process against the local control plane, behind a proxy that
// counts its API requests, and prints what a steady state and a reaction cost: time to sync N
// SchemaMigrations that are already at their target, the operator's RSS, the API requests, writes, CPU
// seconds and reconciles of one resync, and how soon a finished backup Job and a finished scale-down
// lead to the next step. An idle operator (no SchemaMigrations) is measured first for comparison.
//
//   node --import ./scripts/register-ts.js bench/operator.ts [--count 1000] [--resync 5s]
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import pg from 'pg';
import { onCleanup, runBenchmark } from './entry.js';
import { assertRunning, BUNDLE, spawnOperator, waitReady, type OperatorProcess } from './support/operator.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../src/api/v1alpha1/group.js';
import { parseDuration } from '../src/duration.js';
import { bundle, imageEnvironment } from '../scripts/bundle.js';
import { startLocalCluster } from '../src/localcluster/index.js';
import { applyShippedCrd } from '../test/localcluster/support.js';
import { startPostgres } from '../src/localcluster/postgres.js';
import { migrateToTarget } from '../src/migrations/engine.js';

const RSS_TARGET_MB = 150;
const REACTION_TARGET_S = 1;
const STEADY_NAMESPACE = 'bench-steady';
const REACTION_NAMESPACE = 'bench-reaction';

/** Two small migrations in node-pg-migrate's SQL format. */
const MIGRATIONS: Record<string, string> = {
  '1_create-orders.sql': [
    '-- Up Migration',
    'CREATE TABLE orders (id serial PRIMARY KEY, total int NOT NULL);',
    'INSERT INTO orders (total) VALUES (10), (20), (30);',
    '-- Down Migration',
    'DROP TABLE orders;',
    '',
  ].join('\n'),
  '2_add-note.sql': [
    '-- Up Migration',
    "ALTER TABLE orders ADD COLUMN note text NOT NULL DEFAULT '';",
    '-- Down Migration',
    'ALTER TABLE orders DROP COLUMN note;',
    '',
  ].join('\n'),
};

interface Options {
  readonly count: number;
  readonly resync: string;
  readonly resyncMs: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: { count: { type: 'string', default: '1000' }, resync: { type: 'string', default: '5s' } },
    strict: true,
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--count must be a positive integer, got "${values.count}"`);
  const resyncMs = parseDuration(values.resync);
  if (resyncMs < 1000) throw new Error(`--resync must be at least 1s, got "${values.resync}"`);
  return { count, resync: values.resync, resyncMs };
}

// ---------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------
// The counting proxy between the operator and the API server.

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete']);

/** The path with namespace and object names replaced: /api/v1/namespaces/{ns}/secrets/{name}. */
function pathPattern(path: string): string {
  const parts = path.split('/').filter(Boolean);
  const prefix = parts[0] === 'api' ? 2 : 3;
  const out = parts.slice(0, prefix);
  let rest = parts.slice(prefix);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    out.push('namespaces', '{ns}');
    rest = rest.slice(2);
  }
  if (rest.length > 0) out.push(rest[0]!);
  if (rest.length > 1) out.push('{name}', ...rest.slice(2));
  return `/${out.join('/')}`;
}

/** The Kubernetes verb of a request: get, list, watch, create, update, patch, delete. */
function verbOf(method: string, url: URL, pattern: string): string {
  if (method === 'GET') {
    const watch = url.searchParams.get('watch');
    if (watch === 'true' || watch === '1') return 'watch';
    return pattern.endsWith('{name}') || !/^\/apis?\//.test(pattern) ? 'get' : 'list';
  }
  return { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }[method] ?? method.toLowerCase();
}

/** Request counts keyed by `verb pattern`. */
type Counts = Map<string, number>;

interface CountingProxy {
  readonly url: string;
  /** A copy of the counts so far. */
  snapshot(): Counts;
  /** performance.now() of the last request that was not a watch. */
  lastRequestAt(): number;
  /** TCP connections the operator has opened to the proxy so far. */
  connections(): number;
  /** Starts a new burst: firstRequestAt() is then the first request (not a watch) after this call. */
  mark(): void;
  firstRequestAt(): number | undefined;
  close(): Promise<void>;
}

async function startCountingProxy(upstream: string, ca: string): Promise<CountingProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, ca });
  const counts: Counts = new Map();
  let last = performance.now();
  let first: number | undefined;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', upstream);
    const pattern = pathPattern(url.pathname);
    const verb = verbOf(req.method ?? 'GET', url, pattern);
    const key = `${verb} ${pattern}`;
    const counted = req.headers[UNCOUNTED] === undefined;
    if (counted) counts.set(key, (counts.get(key) ?? 0) + 1);
    if (counted && verb !== 'watch') {
      last = performance.now();
      first ??= last;
    }
    let answer: IncomingMessage | undefined;
    const forward = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (response) => {
        answer = response;
        res.writeHead(response.statusCode ?? 502, response.headers);
        res.flushHeaders(); // a watch's headers must not wait for its first event
        response.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    res.on('close', () => {
      if (!answer?.complete) forward.destroy();
    });
    req.pipe(forward);
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    snapshot: () => new Map(counts),
    lastRequestAt: () => last,
    connections: () => connections,
    mark: () => {
      first = undefined;
    },
    firstRequestAt: () => first,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

function delta(before: Counts, after: Counts): Counts {
  const out: Counts = new Map();
  for (const [key, n] of after) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) out.set(key, d);
  }
  return out;
}

function sumWhere(counts: Counts, keep: (verb: string) => boolean): number {
  let total = 0;
  for (const [key, n] of counts) if (keep(key.split(' ')[0]!)) total += n;
  return total;
}

function byVerb(counts: Counts): string {
  const verbs = new Map<string, number>();
  for (const [key, n] of counts) {
    const verb = key.split(' ')[0]!;
    verbs.set(verb, (verbs.get(verb) ?? 0) + n);
  }
  const parts = [...verbs].sort((a, b) => b[1] - a[1]).map(([verb, n]) => `${verb} ${n}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

// ---------------------------------------------------------------------------------------------------
// The operator's /metrics.

interface Metrics {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
  readonly reconciles: number;
  readonly queueDepth: number;
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
}

/** The sum of every series of a metric in prom-client's text format. */
function metricValue(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !/[ {]/.test(line.charAt(name.length))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function scrape(op: OperatorProcess): Promise<Metrics> {
  assertRunning(op);
  const response = await fetch(`http://127.0.0.1:${op.metricsPort}/metrics`);
  const text = await response.text();
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return {
    rssBytes: metricValue(text, 'process_resident_memory_bytes'),
    cpuSeconds: metricValue(text, 'process_cpu_seconds_total'),
    reconciles: metricValue(text, 'schemaops_reconciles_total'),
    queueDepth: metricValue(text, 'schemaops_queue_depth'),
    heapUsedBytes: metricValue(text, 'nodejs_heap_size_used_bytes'),
    heapTotalBytes: metricValue(text, 'nodejs_heap_size_total_bytes'),
  };
}

// ---------------------------------------------------------------------------------------------------
// One resync period of an operator that has gone quiet.

interface ResyncFigures {
  readonly quiet: boolean;
  readonly windowMs: number;
  readonly counts: Counts;
  readonly cpuSeconds: number;
  readonly reconciles: number;
  /** TCP connections to the API server opened in the window. */
  readonly connections: number;
  /** PostgreSQL sessions on the steady-state database in the window. */
  readonly dbSessions: number;
  /** From the first to the last request of the resync's burst, when it started from quiet. */
  readonly burstMs: number | undefined;
  /** The operator's metrics at the end of the window. */
  readonly after: Metrics;
}

/** Waits until no request but watches has passed the proxy for `gapMs`; false at the deadline. */
async function waitQuiet(proxy: CountingProxy, op: OperatorProcess, gapMs: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    assertRunning(op);
    if (performance.now() - proxy.lastRequestAt() >= gapMs) return true;
    await sleep(20);
  }
  return false;
}

/**
 * From a quiet moment, one resync period (which holds exactly one resync tick), extended while requests
 * still flow at its end so the tick's whole burst is counted (at most three periods). When the operator
 * never goes quiet (a resync pass takes longer than the period), exactly one period of its ongoing work.
 */
async function measureResync(
  proxy: CountingProxy,
  op: OperatorProcess,
  periodMs: number,
  dbSessions: () => Promise<number>,
) {
  const gapMs = Math.min(1000, periodMs / 4);
  const quiet = await waitQuiet(proxy, op, gapMs, 2 * periodMs);
  const [counts0, connections0] = [proxy.snapshot(), proxy.connections()];
  const [metrics0, sessions0, start] = [await scrape(op), await dbSessions(), performance.now()];
  proxy.mark();
  await sleep(periodMs);
  const busy = () => performance.now() - proxy.lastRequestAt() < gapMs;
  while (quiet && busy() && performance.now() - start < 3 * periodMs) await sleep(20);
  const [counts1, metrics1, end] = [proxy.snapshot(), await scrape(op), performance.now()];
  const figures: ResyncFigures = {
    quiet,
    windowMs: end - start,
    counts: delta(counts0, counts1),
    cpuSeconds: metrics1.cpuSeconds - metrics0.cpuSeconds,
    reconciles: metrics1.reconciles - metrics0.reconciles,
    connections: proxy.connections() - connections0,
    dbSessions: (await dbSessions()) - sessions0,
    burstMs: quiet ? proxy.lastRequestAt() - (proxy.firstRequestAt() ?? proxy.lastRequestAt()) : undefined,
    after: metrics1,
  };
  return figures;
}

/** Sessions opened so far on the databases whose names start with `prefix` (pg_stat_database). */
async function sessionsOn(adminUrl: string, prefix: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query<{ n: number }>(
      'SELECT coalesce(sum(sessions), 0)::int AS n FROM pg_stat_database WHERE starts_with(datname, $1)',
      [prefix],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// Objects in the local control plane, read directly (not through the proxy).

interface Condition {
  type: string;
  status: string;
}
interface SchemaMigrationView {
  metadata: { name: string };
  status?: { phase?: string; conditions?: Condition[]; plan?: { backupJob?: string } };
}

const isTrue = (conditions: Condition[] | undefined, type: string) =>
  conditions?.some((c) => c.type === type && c.status === 'True') ?? false;

/** The bench's own reads pass the proxy with the admin's token and this header, and are not counted. */
const UNCOUNTED = 'x-schemaops-bench-uncounted';
let adminHeaders: Record<string, string> = {};

async function getJson<T>(base: string, path: string): Promise<T | undefined> {
  const response = await fetch(`${base}${path}`, { headers: adminHeaders });
  if (response.status === 404) {
    await response.arrayBuffer();
    return undefined;
  }
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

const smPath = (namespace: string, name = '') =>
  `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}${name ? `/${name}` : ''}`;

/** A namespace with the database Secret and the migrations ConfigMap. */
async function createInputs(kc: KubeConfig, namespace: string, databaseUrl: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedSecret({
    namespace,
    body: { metadata: { name: 'orders-db' }, stringData: { url: databaseUrl } },
  });
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name: 'orders-migrations' }, data: MIGRATIONS },
  });
}

function migrationBody(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: {
      targetRevision: 'latest',
      database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
      migrations: { configMaps: [{ name: 'orders-migrations' }] },
      ...extra,
    },
  };
}

async function createMigrations(kc: KubeConfig, namespace: string, count: number): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const width = String(count).length;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const body = migrationBody(`orders-${String(i + 1).padStart(width, '0')}`);
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body,
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Waits until every SchemaMigration in the namespace is Ready=True; returns when that was first seen. */
async function waitAllReady(base: string, op: OperatorProcess, namespace: string, count: number) {
  const deadline = Date.now() + 150_000;
  let ready = 0;
  while (Date.now() < deadline) {
    assertRunning(op);
    const list = await getJson<{ items: SchemaMigrationView[] }>(base, smPath(namespace));
    ready = (list?.items ?? []).filter((o) => isTrue(o.status?.conditions, 'Ready')).length;
    if (ready >= count) return performance.now();
    await sleep(100);
  }
  throw new Error(`only ${ready} of ${count} SchemaMigrations were Ready after 150 s`);
}

// ---------------------------------------------------------------------------------------------------
// Reaction: a run with a Deployment and a backup, watched every 10 ms.

interface ReactionFigures {
  /** Deployment status.replicas reached 0, then the SchemaMigration's phase left ScalingDown. */
  scaledDownAt?: number;
  leftScalingDownAt?: number;
  /** The backup Job's Complete condition appeared, then BackedUp=True or a phase past BackingUp. */
  jobCompleteAt?: number;
  backedUpAt?: number;
  readyAt?: number;
  queueDepthAtScaledDown?: number;
  queueDepthAtJobComplete?: number;
  startedAt: number;
}

const PAST_SCALING_DOWN = new Set(['BackingUp', 'Migrating', 'RestoringWorkload', 'Ready']);
const PAST_BACKING_UP = new Set(['Migrating', 'RestoringWorkload', 'Ready']);

async function setUpReaction(kc: KubeConfig, base: string, databaseUrl: string): Promise<void> {
  await createInputs(kc, REACTION_NAMESPACE, databaseUrl);
  const labels = { app: 'orders-api' };
  await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace: REACTION_NAMESPACE,
    body: {
      metadata: { name: 'orders-api' },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'orders-api:1' }] } },
      },
    },
  });
  await kc.makeApiClient(CoreV1Api).createNamespacedPersistentVolumeClaim({
    namespace: REACTION_NAMESPACE,
    body: {
      metadata: { name: 'orders-backups' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    },
  });
  const deadline = Date.now() + 10_000;
  while ((await deploymentReplicas(base)) !== 2) {
    if (Date.now() > deadline) throw new Error('the Deployment did not reach 2 replicas within 10 s');
    await sleep(20);
  }
}

/** status.replicas of the Deployment, 0 once scaled down (zero counts are omitted from status). */
async function deploymentReplicas(base: string): Promise<number | undefined> {
  const path = `/apis/apps/v1/namespaces/${REACTION_NAMESPACE}/deployments/orders-api`;
  const deployment = await getJson<{
    metadata: { generation?: number };
    spec?: { replicas?: number };
    status?: { replicas?: number; observedGeneration?: number };
  }>(base, path);
  if (!deployment) return undefined;
  const observed = (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0);
  if (deployment.spec?.replicas === 0 && !observed) return undefined;
  return deployment.status?.replicas ?? 0;
}

/** One look at the Deployment, the SchemaMigration and its backup Job; records first sightings. */
async function observeReaction(base: string, op: OperatorProcess, r: ReactionFigures): Promise<void> {
  const [replicas, sm] = await Promise.all([
    deploymentReplicas(base),
    getJson<SchemaMigrationView>(base, smPath(REACTION_NAMESPACE, 'orders')),
  ]);
  const now = performance.now();
  const phase = sm?.status?.phase ?? '';
  if (phase === 'Failed' || phase === 'Stalled')
    throw new Error(`the reaction SchemaMigration is ${phase}: ${JSON.stringify(sm?.status)}`);
  if (r.scaledDownAt === undefined && replicas === 0) {
    r.scaledDownAt = now;
    void scrape(op).then(
      (m) => (r.queueDepthAtScaledDown = m.queueDepth),
      () => undefined,
    );
  }
  if (r.scaledDownAt !== undefined && r.leftScalingDownAt === undefined && PAST_SCALING_DOWN.has(phase))
    r.leftScalingDownAt = now;
  const jobName = sm?.status?.plan?.backupJob;
  if (jobName && r.jobCompleteAt === undefined) {
    const job = await getJson<{ status?: { conditions?: Condition[] } }>(
      base,
      `/apis/batch/v1/namespaces/${REACTION_NAMESPACE}/jobs/${jobName}`,
    );
    if (isTrue(job?.status?.conditions, 'Complete')) {
      r.jobCompleteAt = performance.now();
      void scrape(op).then(
        (m) => (r.queueDepthAtJobComplete = m.queueDepth),
        () => undefined,
      );
    }
  }
  const backedUp = isTrue(sm?.status?.conditions, 'BackedUp') || PAST_BACKING_UP.has(phase);
  if (r.jobCompleteAt !== undefined && r.backedUpAt === undefined && backedUp) r.backedUpAt = now;
  if (r.backedUpAt !== undefined && phase === 'Ready' && isTrue(sm?.status?.conditions, 'Ready'))
    r.readyAt = now;
}

async function measureReaction(kc: KubeConfig, base: string, op: OperatorProcess): Promise<ReactionFigures> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const body = migrationBody('orders', {
    workload: { kind: 'Deployment', name: 'orders-api' },
    backup: { pvc: 'orders-backups', image: 'postgres:16' },
  });
  const r: ReactionFigures = { startedAt: performance.now() };
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: REACTION_NAMESPACE,
    plural: PLURAL,
    body,
  });
  const deadline = Date.now() + 60_000;
  while (r.readyAt === undefined) {
    if (Date.now() > deadline)
      throw new Error(`the reaction run did not finish within 60 s: ${JSON.stringify(r)}`);
    assertRunning(op);
    await observeReaction(base, op, r);
    await sleep(10);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------
// The report.

const mb = (bytes: number) => bytes / 1024 / 1024;
const seconds = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : (to - from) / 1000;

function row(label: string, idle: string, loaded: string, note = ''): void {
  console.log(`  ${label.padEnd(40)} ${idle.padStart(12)} ${loaded.padStart(12)}   ${note}`);
}

function verdict(met: boolean, target: string): string {
  return met ? `meets the ${target} target` : `MISSES the ${target} target`;
}

function topPatterns(counts: Counts, limit: number): string[] {
  return [...counts]
    .filter(([key]) => !key.startsWith('watch '))
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, n]) => `    ${String(n).padStart(7)}  ${key}`);
}

interface SteadyFigures {
  readonly syncSeconds: number;
  readonly readySeconds: number;
  readonly atSync: Metrics;
  readonly syncCounts: Counts;
  readonly syncCpu: number;
  readonly resync: ResyncFigures;
}

function reportSteady(options: Options, idleRun: IdleFigures, steady: SteadyFigures): void {
  const idle = idleRun.figures;
  const writes = (c: Counts) => sumWhere(c, (v) => WRITE_VERBS.has(v));
  const requests = (c: Counts) => sumWhere(c, (v) => v !== 'watch');
  const [idleRss, rss] = [mb(idleRun.metrics.rssBytes), mb(steady.atSync.rssBytes)];
  const heap = (m: Metrics) => `${mb(m.heapUsedBytes).toFixed(0)}/${mb(m.heapTotalBytes).toFixed(0)} MB`;
  console.log(`\nsteady state: ${options.count} SchemaMigrations at target, resync ${options.resync}`);
  row('', 'idle (0)', `${options.count}`, 'ratio / target');
  row('time to /readyz', `${idleRun.readySeconds.toFixed(1)} s`, `${steady.readySeconds.toFixed(1)} s`);
  row('time until all Ready', '', `${steady.syncSeconds.toFixed(1)} s`);
  row(
    'requests until all Ready (writes)',
    '',
    `${requests(steady.syncCounts)} (${writes(steady.syncCounts)})`,
    `operator CPU since start ${steady.syncCpu.toFixed(2)} s`,
  );
  row(
    'RSS after sync',
    `${idleRss.toFixed(1)} MB`,
    `${rss.toFixed(1)} MB`,
    `${(rss / idleRss).toFixed(2)}x idle; ${verdict(rss < RSS_TARGET_MB, `${RSS_TARGET_MB} MB`)}`,
  );
  row('JS heap used/total after sync', heap(idleRun.metrics), heap(steady.atSync));
  row(
    'RSS after the resync',
    `${mb(idle.after.rssBytes).toFixed(1)} MB`,
    `${mb(steady.resync.after.rssBytes).toFixed(1)} MB`,
    `JS heap ${heap(steady.resync.after)}`,
  );
  const s = steady.resync;
  row(
    'resync window',
    `${(idle.windowMs / 1000).toFixed(1)} s`,
    `${(s.windowMs / 1000).toFixed(1)} s`,
    s.quiet ? 'quiet before it' : 'NEVER QUIET: a resync pass outlasts the period',
  );
  row('reconciles in the window', `${idle.reconciles}`, `${s.reconciles}`);
  row(
    'API requests in the window',
    `${requests(idle.counts)}`,
    `${requests(s.counts)}`,
    byVerb(new Map([...s.counts].filter(([key]) => !key.startsWith('watch ')))),
  );
  row(
    'writes in the window',
    `${writes(idle.counts)}`,
    `${writes(s.counts)}`,
    verdict(writes(s.counts) === 0, 'zero-writes'),
  );
  row('API TCP connections opened in the window', `${idle.connections}`, `${s.connections}`);
  row('PostgreSQL sessions in the window', `${idle.dbSessions}`, `${s.dbSessions}`);
  row(
    'watch (re)connects in the window',
    `${sumWhere(idle.counts, (v) => v === 'watch')}`,
    `${sumWhere(s.counts, (v) => v === 'watch')}`,
  );
  row('operator CPU seconds in the window', idle.cpuSeconds.toFixed(3), s.cpuSeconds.toFixed(3));
  const perReconcile = s.reconciles > 0 ? requests(s.counts) / s.reconciles : 0;
  const cpuPerReconcile = s.reconciles > 0 ? s.cpuSeconds / s.reconciles : 0;
  row(
    'per reconcile',
    '',
    `${perReconcile.toFixed(2)} req`,
    `${(cpuPerReconcile * 1000).toFixed(2)} ms CPU, ${(writes(s.counts) / Math.max(1, s.reconciles)).toFixed(2)} writes`,
  );
  const passCpu = cpuPerReconcile * options.count;
  const rate = s.reconciles / (s.windowMs / 1000);
  const passSeconds = s.burstMs !== undefined ? s.burstMs / 1000 : options.count / rate;
  row(
    'wall time of one resync pass',
    '',
    `${passSeconds.toFixed(1)} s`,
    s.burstMs !== undefined
      ? 'first to last request of the burst'
      : `${rate.toFixed(0)} reconciles/s, while the period is ${options.resync}`,
  );
  row(
    `one resync pass (${options.count} reconciles)`,
    '',
    `${Math.round(perReconcile * options.count)} req`,
    `${passCpu.toFixed(2)} s CPU = ${((passCpu * 1000) / options.resyncMs).toFixed(2)}x the period`,
  );
  console.log('  requests of the resync by pattern:');
  for (const line of topPatterns(s.counts, 10)) console.log(line);
  console.log('  requests until all Ready by pattern:');
  for (const line of topPatterns(steady.syncCounts, 12)) console.log(line);
}

function reportReaction(r: ReactionFigures): void {
  const backup = seconds(r.jobCompleteAt, r.backedUpAt);
  const scale = seconds(r.scaledDownAt, r.leftScalingDownAt);
  const depth = (d: number | undefined) => (d === undefined ? '' : `, queue depth then ${d}`);
  console.log(
    '\nreaction (one more SchemaMigration with a Deployment of 2 and a backup, polled every 10 ms):',
  );
  console.log(
    `  Job Complete -> BackedUp / next phase     ${backup === undefined ? 'n/a' : `${backup.toFixed(3)} s`}   ` +
      `${backup === undefined ? '' : verdict(backup < REACTION_TARGET_S, `${REACTION_TARGET_S} s`)}${depth(r.queueDepthAtJobComplete)}`,
  );
  console.log(
    `  replicas 0 -> phase leaves ScalingDown    ${scale === undefined ? 'n/a' : `${scale.toFixed(3)} s`}   ` +
      `${scale === undefined ? '' : verdict(scale < REACTION_TARGET_S, `${REACTION_TARGET_S} s`)}${depth(r.queueDepthAtScaledDown)}`,
  );
  console.log(
    `  whole run, created -> Ready              ${(seconds(r.startedAt, r.readyAt) ?? 0).toFixed(3)} s`,
  );
}

// ---------------------------------------------------------------------------------------------------

/** What the measurements share: the proxy, the operator's kubeconfig, the API server, the database. */
interface Bench {
  readonly options: Options;
  readonly proxy: CountingProxy;
  readonly kubeconfigPath: string;
  /** The API server's own URL, for reads that the proxy does not count. */
  readonly base: string;
  readonly dbSessions: () => Promise<number>;
}

async function measureIdle(bench: Bench) {
  const started = performance.now();
  const op = await spawnOperator(bench.kubeconfigPath, { args: ['--resync-period', bench.options.resync] });
  await waitReady(op, 60_000);
  const readySeconds = (performance.now() - started) / 1000;
  const figures = await measureResync(bench.proxy, op, bench.options.resyncMs, bench.dbSessions);
  const metrics = await scrape(op);
  await op.stop();
  return { figures, metrics, readySeconds };
}

type IdleFigures = Awaited<ReturnType<typeof measureIdle>>;

async function measureSteady(bench: Bench) {
  const { proxy, options } = bench;
  const counts0 = proxy.snapshot();
  const started = performance.now();
  const op = await spawnOperator(bench.kubeconfigPath, { args: ['--resync-period', options.resync] });
  await waitReady(op, 60_000);
  const readyAt = performance.now();
  const allReadyAt = await waitAllReady(bench.base, op, STEADY_NAMESPACE, options.count);
  const atSync = await scrape(op);
  const steady: SteadyFigures = {
    syncSeconds: (allReadyAt - started) / 1000,
    readySeconds: (readyAt - started) / 1000,
    atSync,
    syncCounts: delta(counts0, proxy.snapshot()),
    syncCpu: atSync.cpuSeconds,
    resync: await measureResync(proxy, op, options.resyncMs, bench.dbSessions),
  };
  return { op, steady };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const env = Object.entries(imageEnvironment()).map(([name, value]) => `${name}=${value}`);
  console.log(`bundling ${BUNDLE}; the operator runs it as the image does, with ${env.join(' ')}`);
  for (const warning of await bundle(BUNDLE)) console.log(`bundle warning: ${warning}`);
  const benchStarted = performance.now();
  const server = await startPostgres();
  onCleanup('PostgreSQL', () => server.stop());
  const cluster = await startLocalCluster({ podReadyDelayMs: 50 });
  adminHeaders = { Authorization: `Bearer ${cluster.adminToken}`, [UNCOUNTED]: '1' };
  onCleanup('the local control plane', () => cluster.stop());
  const proxy = await startCountingProxy(cluster.url, cluster.caData);
  onCleanup('the counting proxy', () => proxy.close());
  const dir = await mkdtemp(join(tmpdir(), 'schemaops-bench-operator-'));
  onCleanup('the temporary directory', () => rm(dir, { recursive: true, force: true }));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, cluster.kubeconfig({ server: proxy.url }), { mode: 0o600 });
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  await applyShippedCrd(cluster.kubeconfig());
  const bench: Bench = {
    options,
    proxy,
    kubeconfigPath,
    base: proxy.url,
    dbSessions: () => sessionsOn(server.url(), 'bench_steady'),
  };

  console.log(
    `bench/operator: ${options.count} SchemaMigrations on one database, resync ${options.resync}, ` +
      `Node ${process.version}; the operator is a child process behind a counting proxy`,
  );
  const idle = await measureIdle(bench);

  const steadyUrl = await server.createDatabase('bench_steady');
  await migrateToTarget({ databaseUrl: steadyUrl }, MIGRATIONS, { kind: 'latest' });
  await createInputs(kc, STEADY_NAMESPACE, steadyUrl);
  const created = performance.now();
  await createMigrations(kc, STEADY_NAMESPACE, options.count);
  console.log(
    `  created ${options.count} SchemaMigrations in ${((performance.now() - created) / 1000).toFixed(1)} s`,
  );

  const { op, steady } = await measureSteady(bench);
  reportSteady(options, idle, steady);

  await setUpReaction(kc, cluster.url, await server.createDatabase('bench_reaction'));
  reportReaction(await measureReaction(kc, cluster.url, op));
  await op.stop();
  console.log(`\ntotal ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
}

await runBenchmark('bench/operator', main);

import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Watch, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import pg from 'pg';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { GROUP, PLURAL, VERSION } from '../api/v1alpha1/group.js';
import { loadConfig } from '../config.js';
import { loadKubeConfig, toWorkloadState } from '../kube/client.js';
import type { ObjectRef, StoredSchemaMigration, WorkloadState } from '../kube/types.js';
import { startLocalCluster } from '../localcluster/index.js';
import { startPostgres } from '../localcluster/postgres.js';
import { currentRevision } from '../migrations/engine.js';
import { redact } from '../redact.js';
import { startOperator } from '../runtime/operator.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NAMESPACE = 'shop';
const ref: ObjectRef = { namespace: NAMESPACE, name: 'orders' };

export interface DemoOptions {
  /** Keep everything running after the rollback until Ctrl-C. */
  readonly wait: boolean;
  readonly write: (line: string) => void;
}

function sampleMigrations(): Record<string, string> {
  const dir = join(root, 'config/samples/migrations');
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

/**
 * The sample app as YAML documents: a namespace, the database Secret, the migrations ConfigMap, a backup PVC,
 * the orders-api Deployment (3 replicas) and a SchemaMigration to `latest` with a backup.
 */
export function sampleManifests(
  databaseUrl: string,
  files: Record<string, string>,
  options: { readonly namespace?: string; readonly appImage?: string } = {},
): string {
  const { namespace = NAMESPACE, appImage = 'orders-api:1.0' } = options;
  const labels = { app: 'orders-api' };
  const metadata = (name: string) => ({ name, namespace });
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'Secret', metadata: metadata('orders-db'), stringData: { url: databaseUrl } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata('orders-migrations'), data: files },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: metadata('orders-backups'),
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata('orders-api'),
      spec: {
        replicas: 3,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'api', image: appImage }] } },
      },
    },
    {
      apiVersion: 'schemaops.dev/v1alpha1',
      kind: 'SchemaMigration',
      metadata: metadata('orders'),
      spec: {
        targetRevision: 'latest',
        database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
        migrations: { configMaps: [{ name: 'orders-migrations' }] },
        workload: { kind: 'Deployment', name: 'orders-api' },
        backup: { pvc: 'orders-backups', image: 'postgres:16', retain: 5 },
      },
    },
  ]
    .map((doc) => stringify(doc))
    .join('---\n');
}

function kubectl(env: NodeJS.ProcessEnv, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', args, { env, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl ${args[0] ?? ''} failed: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** What a person watching cares about: phase, replicas, revision, backup. */
function progressLine(
  object: StoredSchemaMigration | undefined,
  workload: WorkloadState | undefined,
): string {
  const status = object?.status;
  const replicas = workload ? `${workload.currentReplicas}/${workload.replicas}` : '?';
  return [
    `phase=${(status?.phase ?? 'Pending').padEnd(17)}`,
    `replicas=${replicas}`,
    `revision=${status?.currentRevision ?? '?'}`,
    `backup=${status?.lastBackup?.file ?? '-'}`,
  ].join('  ');
}

function conditionTrue(object: StoredSchemaMigration | undefined, type: string) {
  return object?.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

const RUN_DEADLINE_MS = 5 * 60_000;

/**
 * Watches the SchemaMigration and the Deployment and prints a line for every change of the picture, so
 * every phase the operator writes is shown. Resolves once the run is Ready at the revision. The watches
 * are open when this returns: start it before the change it should follow.
 */
async function followRun(
  kc: KubeConfig,
  write: (line: string) => void,
  revision: string,
): Promise<{ readonly finished: Promise<void> }> {
  const started = Date.now();
  const watch = new Watch(kc);
  const byName = { fieldSelector: `metadata.name=${ref.name}` };
  const deploymentName = { fieldSelector: 'metadata.name=orders-api' };
  let migration: StoredSchemaMigration | undefined;
  let deployment: V1Deployment | undefined;
  let last = '';
  let settle: (err?: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  const show = () => {
    // The two watches deliver independently: once the run has status, wait for the Deployment too.
    if (migration && (deployment || !migration.status)) {
      const line = progressLine(migration, deployment && toWorkloadState(deployment));
      if (line !== last) write(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${line}`);
      last = line;
    }
    const stalled = conditionTrue(migration, 'Stalled');
    if (stalled) settle(new Error(`stalled: ${stalled.reason}: ${stalled.message}`));
    else if (conditionTrue(migration, 'Ready') && migration?.status?.currentRevision === revision) settle();
  };
  // A watch that closes (kube-apiserver answers 429 while a new resource's watch cache starts) is opened again.
  let stopped = false;
  const open: { abort(): void }[] = [];
  const follow = async <T>(path: string, selector: { fieldSelector: string }, seen: (object: T) => void) => {
    const request = await watch.watch(
      path,
      selector,
      (_type: string, object: T) => seen(object),
      () => {
        if (!stopped) setTimeout(() => void follow(path, selector, seen).catch(settle), 200);
      },
    );
    open.push(request);
  };
  await follow(
    `/apis/${GROUP}/${VERSION}/namespaces/${NAMESPACE}/${PLURAL}`,
    byName,
    (object: StoredSchemaMigration) => {
      migration = object;
      show();
    },
  );
  await follow(
    `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
    deploymentName,
    (object: V1Deployment) => {
      deployment = object;
      show();
    },
  );
  const deadline = setTimeout(
    () => settle(new Error(`not Ready at ${revision} within ${RUN_DEADLINE_MS / 60_000} minutes`)),
    RUN_DEADLINE_MS,
  );
  const stop = () => {
    stopped = true;
    clearTimeout(deadline);
    for (const w of open) w.abort();
  };
  const done = finished.finally(stop);
  done.catch(() => undefined); // awaited by the caller once its change is made; not unhandled meanwhile
  return { finished: done };
}

interface Environment {
  readonly databaseUrl: string;
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  readonly pvcDir: string;
}

/** The names config/default gives the operator. */
const OPERATOR = {
  namespace: 'schemaops-system',
  deployment: 'schemaops-controller-manager',
  serviceAccount: 'schemaops-controller-manager',
};

/** PostgreSQL, the local cluster with the shipped manifests, and the operator; each registers its own cleanup. */
async function startEnvironment(
  write: (line: string) => void,
  cleanups: (() => Promise<void>)[],
): Promise<Environment> {
  const postgres = await startPostgres();
  cleanups.push(() => postgres.stop());
  const databaseUrl = await postgres.createDatabase('orders');
  write(`PostgreSQL on 127.0.0.1:${postgres.port} (a throwaway server)`);
  const cluster = await startLocalCluster();
  cleanups.push(() => cluster.stop());
  const dir = mkdtempSync(join(tmpdir(), 'schemaops-demo-'));
  cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const kubeconfig = join(dir, 'kubeconfig');
  cluster.writeKubeconfig(kubeconfig, { namespace: NAMESPACE });
  const env = { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'kubecache') };
  write(
    `Local cluster (kube-apiserver, etcd, controller-manager, scheduler, a local kubelet) at ${cluster.url}; ` +
      `watch beside it with:\n  KUBECONFIG=${kubeconfig} kubectl get smig -w`,
  );
  write('\n$ kubectl apply -k config/default   # the CRD, RBAC, ServiceAccount and manager Deployment');
  await kubectl(env, ['apply', '-k', join(root, 'config/default')]);
  await kubectl(env, ['wait', '--for=condition=Established', 'crd/schemamigrations.schemaops.dev']);
  // No container runtime here: the manager's pod would never run the image, so the operator runs in this
  // process instead, with its ServiceAccount's token and so with exactly the RBAC it ships with.
  await kubectl(env, ['scale', 'deployment', OPERATOR.deployment, '-n', OPERATOR.namespace, '--replicas=0']);
  const token = (
    await kubectl(env, [
      'create',
      'token',
      OPERATOR.serviceAccount,
      '-n',
      OPERATOR.namespace,
      '--duration=24h',
    ])
  ).trim();
  const operatorKubeconfig = join(dir, 'operator.kubeconfig');
  cluster.writeKubeconfig(operatorKubeconfig, { token });
  const config = loadConfig(
    {
      kubeconfig: operatorKubeconfig,
      metricsAddr: '127.0.0.1:0',
      healthAddr: '127.0.0.1:0',
      logLevel: 'warn',
    },
    {},
  );
  const operator = await startOperator(config, pino({ level: 'warn' }));
  cleanups.push(() => operator.stop());
  write(
    `operator running in this process as ServiceAccount ${OPERATOR.namespace}/${OPERATOR.serviceAccount}`,
  );
  return { databaseUrl, kubeconfig, env, pvcDir: cluster.pvcDir(NAMESPACE, 'orders-backups') };
}

/** Runs SQL on the sample database as the app would. */
async function query(databaseUrl: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The Events of the SchemaMigration, as the end of `kubectl describe` shows them. */
async function describeEvents(e: Environment): Promise<string> {
  const described = await kubectl(e.env, ['describe', 'smig', 'orders']);
  const events = described.slice(described.search(/^Events:/m));
  return `\n$ kubectl describe smig orders   # its Events\n${events.trimEnd()}`;
}

/** Deploys the sample, lets the operator migrate it, then rolls back one revision with kubectl patch. */
async function migrateAndRollBack(e: Environment, write: (line: string) => void): Promise<void> {
  const files = sampleMigrations();
  const revisions = Object.keys(files).map((f) => f.slice(0, -4));
  const kc = loadKubeConfig({ kubeconfigPath: e.kubeconfig });
  write(
    `\n$ kubectl apply -f -   # Deployment orders-api (3 replicas), ${revisions.length} migrations, SchemaMigration orders -> latest`,
  );
  const install = await followRun(kc, write, revisions.at(-1) ?? 'base');
  await kubectl(e.env, ['apply', '-f', '-'], sampleManifests(e.databaseUrl, files));
  await install.finished;
  write(`database at ${await currentRevision({ databaseUrl: e.databaseUrl })}`);
  await query(
    e.databaseUrl,
    "WITH c AS (INSERT INTO customers (email) VALUES ('ada@example.com') RETURNING id) " +
      'INSERT INTO orders (customer_id, total_cents) SELECT id, 4200 FROM c',
  );
  write('the app takes an order: 1 customer, 1 order');
  // The last migration's down section drops an index and no data: no allowDataLoss needed.
  const previous = revisions.at(-2) ?? 'base';
  const patch = JSON.stringify({ spec: { targetRevision: previous } });
  write(`\n$ kubectl patch smig orders --type merge -p '${patch}'   # drops an index, keeps every row`);
  const rollback = await followRun(kc, write, previous);
  await kubectl(e.env, ['patch', 'smig', 'orders', '--type', 'merge', '-p', patch]);
  await rollback.finished;
  write(`database at ${await currentRevision({ databaseUrl: e.databaseUrl })}`);
  const [kept] = await query(
    e.databaseUrl,
    'SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders',
  );
  write(`rows kept: ${String(kept?.customers)} customer, ${String(kept?.orders)} order`);
  write(`\n$ kubectl get smig orders\n${(await kubectl(e.env, ['get', 'smig', 'orders'])).trimEnd()}`);
  write(`backups on the PVC (a local directory): ${readdirSync(e.pvcDir).join(', ')}`);
  await refuseLossyRollback(e, write, previous);
  write(await describeEvents(e));
}

/** A rollback that would drop rows is refused, touching nothing, unless the patch also allows the loss. */
async function refuseLossyRollback(e: Environment, write: (line: string) => void, previous: string) {
  const lossy = JSON.stringify({ spec: { targetRevision: 'base' } });
  write(`\n$ kubectl patch smig orders --type merge -p '${lossy}'   # would drop both tables and their rows`);
  await kubectl(e.env, ['patch', 'smig', 'orders', '--type', 'merge', '-p', lossy]);
  await kubectl(e.env, ['wait', '--for=condition=Stalled', 'smig/orders', '--timeout=120s']);
  const message = await kubectl(e.env, [
    'get',
    'smig',
    'orders',
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Stalled")].reason}: {.status.conditions[?(@.type=="Stalled")].message}',
  ]);
  write(`refused, nothing touched: ${message}`);
  write(`database still at ${await currentRevision({ databaseUrl: e.databaseUrl })}`);
  write('(only a patch that also sets {"policy":{"allowDataLoss":true}} would run it)');
  const back = JSON.stringify({ spec: { targetRevision: previous } });
  write(`\n$ kubectl patch smig orders --type merge -p '${back}'   # nothing to do: Ready again`);
  await kubectl(e.env, ['patch', 'smig', 'orders', '--type', 'merge', '-p', back]);
  await kubectl(e.env, ['wait', '--for=condition=Ready', 'smig/orders', '--timeout=120s']);
}

/** The no-cluster demo: real PostgreSQL, pg_dump, Kubernetes control plane, operator and kubectl. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { write } = options;
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    write(
      'schemaops demo: real PostgreSQL, pg_dump, Kubernetes control plane, operator and kubectl; ' +
        "a local kubelet runs the backup Job's pg_dump as a process and marks the app's pods Ready.",
    );
    const e = await startEnvironment(write, cleanups);
    await migrateAndRollBack(e, write);
    if (options.wait) {
      write(`\nStill running: try kubectl (KUBECONFIG=${e.kubeconfig}). Ctrl-C stops and cleans up.`);
      await new Promise<never>(() => undefined);
    }
  } catch (err) {
    throw new Error(redact(err instanceof Error ? err.message : String(err)), { cause: err });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { bundle, imageEnvironment } from '../../scripts/bundle.js';
import { createDatabase } from '../../src/localcluster/postgres.js';
import { freshDatabase, testPostgres } from '../support/db.js';
import { installOperator, kubectlRunner, startTestCluster, waitFor } from '../localcluster/support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Where the scenarios run: `local` (the default) or `kind`, from SCHEMAOPS_E2E_TARGET. */
export const targetName = process.env.SCHEMAOPS_E2E_TARGET ?? 'local';

/** A database for a scenario: the URL pods use (it goes into the Secret) and the one this process uses. */
export interface Database {
  readonly inCluster: string;
  readonly local: string;
}

export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A cluster with the operator installed through kubectl, and a PostgreSQL server both sides can reach.
 * The scenarios in operator.test.ts talk to it only through kubectl and SQL.
 */
export interface E2ETarget {
  readonly name: string;
  /** The sample app's container image (the local control plane never runs it). */
  readonly appImage: string | undefined;
  /** How long `kubectl wait` may take for one run (image pulls make a real cluster slower). */
  readonly waitTimeout: string;
  /** Strings that must never appear in the operator's output. */
  readonly secrets: readonly string[];
  kubectl(args: string[], options?: { input?: string }): Promise<KubectlResult>;
  database(prefix: string): Promise<Database>;
  /** Everything the operator has logged so far. */
  operatorOutput(): string;
  /** Stops the operator as Kubernetes does (SIGTERM); true when it shut down cleanly. */
  stopOperator(): Promise<boolean>;
  close(): Promise<void>;
}

/** Collects a child's output; `exited` resolves with its exit code. */
function capture(child: ChildProcess): { output: () => string; exited: Promise<number | null> } {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited };
}

/**
 * The local cluster (real control plane, local kubelet): installed from the kustomize default like any
 * cluster; the manager's pod is not run (no container runtime), so the operator (the image's bundle) runs as
 * a process beside it with the ServiceAccount's token. PostgreSQL is the test run's server.
 */
async function startLocalTarget(): Promise<E2ETarget> {
  const t = await startTestCluster({ podReadyDelayMs: 100 });
  const kubectl = kubectlRunner(
    { ...process.env, KUBECONFIG: t.kubeconfigPath, KUBECACHEDIR: join(t.dir, 'kubecache') },
    60_000,
  );
  // config/default, as a user installs it; the operator then acts with its ServiceAccount's token.
  const operatorAccess = await installOperator(t);
  // The operator as the image runs it: the bundle, with no node_modules beside it.
  const entry = join(t.dir, 'schemaops.mjs');
  await bundle(entry);
  const operator = spawn(
    process.execPath,
    [
      ...[entry, 'operator'],
      ...['--kubeconfig', operatorAccess.kubeconfigPath, '--log-level', 'debug'],
      ...['--metrics-addr', '127.0.0.1:0', '--health-addr', '127.0.0.1:0'],
    ],
    { cwd: t.dir, env: { ...process.env, ...imageEnvironment() }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs = capture(operator);
  return {
    name: 'local',
    appImage: undefined,
    waitTimeout: '60s',
    secrets: [testPostgres().password, operatorAccess.token, t.cluster.adminToken],
    kubectl,
    database: async (prefix) => {
      const url = await freshDatabase(prefix);
      return { inCluster: url, local: url };
    },
    operatorOutput: logs.output,
    stopOperator: async () => {
      operator.kill('SIGTERM');
      const code = await logs.exited;
      return code === 0 && logs.output().includes('operator stopped');
    },
    close: async () => {
      if (operator.exitCode === null) operator.kill('SIGKILL');
      await t.close();
    },
  };
}

/** Names shared with test/e2e/kind/ (the overlay and the PostgreSQL manifest). */
export const kind = {
  postgresNamespace: 'schemaops-e2e',
  postgresService: 'postgres',
  adminSecret: 'postgres-admin',
  operatorNamespace: 'schemaops-system',
  operatorDeployment: 'schemaops-controller-manager',
  image: 'schemaops:e2e',
  appImage: 'registry.k8s.io/pause:3.10',
} as const;

/** Opens `kubectl port-forward` to the in-cluster PostgreSQL and resolves with the local port. */
async function portForward(env: NodeJS.ProcessEnv): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    'kubectl',
    ['-n', kind.postgresNamespace, 'port-forward', `svc/${kind.postgresService}`, ':5432'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = capture(child);
  let port = 0;
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`kubectl port-forward exited: ${out.output()}`);
      port = Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out.output())?.[1] ?? 0);
      return port > 0;
    },
    { timeoutMs: 30_000, what: 'kubectl port-forward to the in-cluster PostgreSQL' },
  );
  return { port, stop: () => child.kill('SIGTERM') };
}

/**
 * A real cluster (kind, made by scripts/e2e-kind.sh with the image loaded): the operator image installed
 * from the kustomize default with PostgreSQL beside it (test/e2e/kind), reached through port-forward.
 */
async function startKindTarget(): Promise<E2ETarget> {
  const dir = mkdtempSync(join(tmpdir(), 'schemaops-e2e-'));
  const env = { ...process.env, KUBECACHEDIR: join(dir, 'kubecache') };
  const kubectl = kubectlRunner(env, 300_000);
  const password = randomBytes(18).toString('base64url');
  await kubectl(['apply', '-f', '-'], {
    input: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: kind.postgresNamespace } },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: kind.adminSecret, namespace: kind.postgresNamespace },
        stringData: { password },
      },
    ]
      .map((doc) => stringify(doc))
      .join('---\n'),
  });
  await kubectl(['apply', '-k', join(root, 'test/e2e/kind')]);
  for (const [namespace, deployment] of [
    [kind.postgresNamespace, kind.postgresService],
    [kind.operatorNamespace, kind.operatorDeployment],
  ] as const) {
    await kubectl(['-n', namespace, 'rollout', 'status', `deployment/${deployment}`, '--timeout=300s']);
  }
  const forward = await portForward(env);
  const logs = capture(
    spawn('kubectl', ['-n', kind.operatorNamespace, 'logs', '-f', `deployment/${kind.operatorDeployment}`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${forward.port}/postgres`;
  const inClusterHost = `${kind.postgresService}.${kind.postgresNamespace}.svc.cluster.local:5432`;
  return {
    name: 'kind',
    appImage: kind.appImage,
    waitTimeout: '300s',
    secrets: [password],
    kubectl,
    database: async (prefix) => {
      const local = await createDatabase(adminUrl, prefix);
      const inCluster = new URL(local);
      inCluster.host = inClusterHost;
      return { inCluster: inCluster.toString(), local };
    },
    operatorOutput: logs.output,
    stopOperator: async () => {
      await kubectl([
        '-n',
        kind.operatorNamespace,
        'scale',
        `deployment/${kind.operatorDeployment}`,
        '--replicas=0',
      ]);
      await waitFor(() => logs.output().includes('operator stopped'), {
        timeoutMs: 90_000,
        what: 'the operator pod to log its stop',
      });
      return true;
    },
    close: async () => {
      forward.stop();
      await kubectl(['delete', 'namespace', 'shop', 'shop2', '--ignore-not-found', '--wait=false']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startTarget(): Promise<E2ETarget> {
  if (targetName === 'local') return startLocalTarget();
  if (targetName === 'kind') return startKindTarget();
  throw new Error(`SCHEMAOPS_E2E_TARGET=${targetName}: expected local or kind`);
}

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startLocalCluster,
  type LocalCluster,
  type LocalClusterOptions,
} from '../../src/localcluster/index.js';

export { waitFor } from '../support/wait.js';

/** A cluster plus a private kubeconfig (the admin's) and kubectl cache directory. */
export interface TestCluster {
  cluster: LocalCluster;
  dir: string;
  kubeconfigPath: string;
  kubectl(
    args: string[],
    options?: { input?: string; allowFailure?: boolean },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Raw HTTPS against kube-apiserver, as the admin. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

/** Runs the real kubectl with this environment; rejects on a non-zero exit unless allowFailure. */
export function kubectlRunner(env: NodeJS.ProcessEnv, timeoutMs: number): TestCluster['kubectl'] {
  return (args, opts = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile('kubectl', args, { env, timeout: timeoutMs }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (code !== 0 && !opts.allowFailure)
          reject(new Error(`kubectl ${args.join(' ')} failed (${code}): ${stderr || err?.message}`));
        else resolve({ stdout, stderr, code });
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
}

export async function startTestCluster(options: LocalClusterOptions = {}): Promise<TestCluster> {
  const cluster = await startLocalCluster(options);
  const dir = mkdtempSync(join(tmpdir(), 'localcluster-test-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  cluster.writeKubeconfig(kubeconfigPath);
  const env = { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: join(dir, 'kubecache') };
  const kubectl = kubectlRunner(env, 60_000);
  const request: TestCluster['request'] = (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const init = {
        method,
        ca: cluster.caData,
        headers: {
          'Content-Type': 'application/json',
          Authorization: `Bearer ${cluster.adminToken}`,
          ...headers,
        },
      };
      const req = httpsRequest(`${cluster.url}${path}`, init, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (typeof v === 'string') responseHeaders.set(k, v);
          resolve({ status: res.statusCode ?? 0, body: parseMaybeJson(text), headers: responseHeaders });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    });
  return {
    cluster,
    dir,
    kubeconfigPath,
    kubectl,
    request,
    close: async () => {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Installs the shipped CRD as it is (`kubectl apply -f crds/…`) and waits until it is served. */
export async function applyShippedCrd(kubeconfig: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'schemaops-crd-'));
  try {
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, kubeconfig, { mode: 0o600 });
    const kubectl = kubectlRunner(
      { ...process.env, KUBECONFIG: path, KUBECACHEDIR: join(dir, 'cache') },
      60_000,
    );
    await kubectl(['apply', '-f', join(root, 'crds/schemaops.dev_schemamigrations.yaml')]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      'crd/schemamigrations.schemaops.dev',
      '--timeout=60s',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The operator's ServiceAccount as config/default installs it. */
export const operatorServiceAccount = { namespace: 'schemaops-system', name: 'schemaops-controller-manager' };

/**
 * Installs what the project ships, as a user would (`kubectl apply -k config/default`: the CRD, the RBAC, the
 * ServiceAccount and the manager Deployment), and returns a kubeconfig that acts as the operator's
 * ServiceAccount, with a token from the TokenRequest API: the operator runs with the permissions it ships with.
 */
export async function installOperator(
  t: TestCluster,
): Promise<{ kubeconfig: string; kubeconfigPath: string; token: string }> {
  await t.kubectl(['apply', '-k', join(root, 'config/default')]);
  await t.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/schemamigrations.schemaops.dev',
    '--timeout=60s',
  ]);
  const { namespace, name } = operatorServiceAccount;
  const token = (await t.kubectl(['create', 'token', name, '-n', namespace, '--duration=24h'])).stdout.trim();
  const kubeconfig = t.cluster.kubeconfig({ token });
  const kubeconfigPath = join(t.dir, 'operator.kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
  return { kubeconfig, kubeconfigPath, token };
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function writeFile(dir: string, name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** A CRD with status and scale subresources, printer columns, defaults and validation. */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.example.com' },
  spec: {
    group: 'example.com',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', shortNames: ['wd'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: {
          status: {},
          scale: {
            specReplicasPath: '.spec.replicas',
            statusReplicasPath: '.status.replicas',
            labelSelectorPath: '.status.selector',
          },
        },
        additionalPrinterColumns: [
          { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['size'],
                properties: {
                  size: { type: 'integer', minimum: 0 },
                  color: { type: 'string', default: 'blue', enum: ['blue', 'red'] },
                  replicas: { type: 'integer' },
                },
              },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

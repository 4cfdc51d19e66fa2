import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startLocalCluster,
  type LocalCluster,
  type LocalClusterOptions,
} from '../../src/localcluster/index.js';

export { waitFor } from '../support/wait.js';

/** A cluster plus a private kubeconfig and kubectl cache directory. */
export interface TestCluster {
  cluster: LocalCluster;
  dir: string;
  kubeconfigPath: string;
  kubectl(
    args: string[],
    options?: { input?: string; allowFailure?: boolean },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
  /** Raw HTTP against the API server. */
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
  const kubectl = kubectlRunner(env, 30_000);
  const request: TestCluster['request'] = async (method, path, body, headers = {}) => {
    const init: RequestInit = { method, headers: { 'Content-Type': 'application/json', ...headers } };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const response = await fetch(`${cluster.url}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: parseMaybeJson(text), headers: response.headers };
  };
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

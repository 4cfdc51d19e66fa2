import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json, TestCluster } from '../localcluster/support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PLUGIN = ['--import', join(root, 'scripts/register-ts.js'), join(root, 'src/plugin/main.ts')];
export const API = '/apis/schemaops.dev/v1alpha1';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `kubectl-schemaops` in its own process, stdin not a terminal. */
export function plugin(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...PLUGIN, ...args],
      { cwd: root, env },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

/** A running `kubectl-schemaops`: its output so far, and its exit (code and when it happened). */
export interface RunningPlugin {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<Run & { at: number }>;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Starts `kubectl-schemaops`; with `terminal`, on a pseudo-terminal (util-linux `script`), so that it asks, and
 * the test answers through `child.stdin`. Stdout and stderr then arrive together.
 */
export function startPlugin(args: string[], env: NodeJS.ProcessEnv, terminal = false): RunningPlugin {
  const command = [process.execPath, ...PLUGIN, ...args];
  const child = terminal
    ? spawn('script', ['-qec', command.map(quote).join(' '), '/dev/null'], { cwd: root, env })
    : spawn(command[0]!, command.slice(1), { cwd: root, env });
  if (!terminal) child.stdin.end();
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Run & { at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err, at: Date.now() })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** A condition as the operator writes it. */
function condition(type: string, status: 'True' | 'False', reason: string, message: string) {
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** Ready, Reconciling and Stalled as kstatus wants them for one state, observed at `generation`. */
export function conditions(
  state: 'ready' | 'progressing' | 'stalled',
  reason: string,
  generation: number,
  message = '',
) {
  const on = (yes: boolean) => (yes ? 'True' : 'False');
  const idle = state === 'ready' ? 'AtTargetRevision' : reason;
  return [
    condition('Ready', on(state === 'ready'), idle, message),
    condition('Reconciling', on(state === 'progressing'), idle, state === 'progressing' ? message : ''),
    condition(
      'Stalled',
      on(state === 'stalled'),
      state === 'stalled' ? reason : 'Progressing',
      state === 'stalled' ? message : '',
    ),
  ].map((c) => ({ ...c, observedGeneration: generation }));
}

/** A SchemaMigration as the tests read it back. */
export interface Smig {
  metadata: { name: string; generation: number; annotations?: Record<string, string> };
  spec: { targetRevision: string; policy?: { allowDataLoss?: boolean } };
  status?: Json;
}

/** The SchemaMigration API of one namespace, as the admin (the test plays the operator through status). */
export function smigApi(t: TestCluster, namespace: string) {
  const path = (name: string) => `${API}/namespaces/${namespace}/schemamigrations/${name}`;
  const ok = (what: string, r: { status: number; body: unknown }) => {
    if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body as Smig;
  };
  const merge = { 'Content-Type': 'application/merge-patch+json' };
  return {
    create: async (name: string, spec: Json) =>
      ok(
        `creating ${name}`,
        await t.request('POST', `${API}/namespaces/${namespace}/schemamigrations`, {
          apiVersion: 'schemaops.dev/v1alpha1',
          kind: 'SchemaMigration',
          metadata: { name, namespace },
          spec,
        }),
      ),
    get: async (name: string) => ok(`reading ${name}`, await t.request('GET', path(name))),
    patchStatus: async (name: string, status: Json) =>
      ok(
        `writing the status of ${name}`,
        await t.request('PATCH', `${path(name)}/status`, { status }, merge),
      ),
    configMap: async (name: string, data: Record<string, string>, labels: Record<string, string> = {}) =>
      ok(
        `creating ConfigMap ${name}`,
        await t.request('POST', `/api/v1/namespaces/${namespace}/configmaps`, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace, labels },
          data,
        }),
      ),
    patchConfigMap: async (name: string, data: Record<string, string>) =>
      ok(
        `patching ConfigMap ${name}`,
        await t.request('PATCH', `/api/v1/namespaces/${namespace}/configmaps/${name}`, { data }, merge),
      ),
  };
}

/** A spec the CRD accepts; nothing here runs the operator, so the Secret need not exist. */
export function specOf(
  targetRevision: string,
  migrations: Json = { configMaps: [{ name: 'migrations' }] },
): Json {
  return {
    targetRevision,
    database: { urlFrom: { secretKeyRef: { name: 'db', key: 'url' } } },
    migrations,
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = ['--import', join(root, 'scripts/register-ts.js'), join(root, 'src/main.ts')];

/** The one Lease the shipped RBAC lets the operator hold; short timings so a successor takes over quickly. */
export const leaderElection = [
  '--leader-elect',
  'true',
  '--lease-name',
  'schemaops-leader',
  '--lease-namespace',
  'schemaops-system',
  '--lease-duration',
  '2s',
  '--renew-deadline',
  '1500ms',
  '--retry-period',
  '200ms',
];

/** `schemaops operator` as an OS process: the shipped ServiceAccount's token, through the fault proxy. */
export interface OperatorProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** True once it leads and watches. */
  leading(): boolean;
  /** SIGKILL: no shutdown, no lease release, connections dropped by the kernel. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  terminate(): Promise<number | NodeJS.Signals>;
}

let started = 0;
/** What every operator process of this test file printed, for a search for secrets after a suite. */
const everyOutput: (() => string)[] = [];
export const operatorOutputs = (): string[] => everyOutput.map((output) => output());

/**
 * Starts `schemaops operator` with the kubeconfig on free ports; `args` are its other flags (by default debug logs and
 * the leader election above).
 */
export function startOperatorProcess(
  kubeconfigPath: string,
  options: { name?: string; args?: readonly string[] } = {},
): OperatorProcess {
  const name = options.name ?? `operator-${++started}`;
  const args = options.args ?? ['--log-level', 'debug', ...leaderElection];
  const child = spawn(
    process.execPath,
    [
      ...cli,
      'operator',
      '--kubeconfig',
      kubeconfigPath,
      '--metrics-addr',
      '127.0.0.1:0',
      '--health-addr',
      '127.0.0.1:0',
      ...args,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, POD_NAME: name } },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  everyOutput.push(() => output);
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'SIGKILL')),
  );
  return {
    name,
    child,
    output: () => output,
    exited,
    leading: () => output.includes('"msg":"watching"'),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    terminate: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Waits until one of the processes leads; returns it. */
export async function leaderOf(
  processes: readonly OperatorProcess[],
  timeoutMs = 20_000,
): Promise<OperatorProcess> {
  return waitFor(() => processes.find((p) => p.leading()), { timeoutMs, what: 'an operator to lead' });
}

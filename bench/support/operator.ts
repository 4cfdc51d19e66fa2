// The operator as the container image runs it: the bundle that scripts/bundle.ts writes, as a child process with
// the environment of the Dockerfile's last stage, its /metrics and /readyz on ports chosen beforehand.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageEnvironment } from '../../scripts/bundle.js';
import { freePort } from '../../src/localcluster/postgres.js';
import { onCleanup } from '../entry.js';

const ROOT = dirname(dirname(import.meta.dirname));
export const BUNDLE = join(ROOT, 'dist', 'schemaops.mjs');

export interface OperatorProcess {
  readonly child: ChildProcess;
  readonly metricsPort: number;
  readonly healthPort: number;
  /** The last 8,000 characters it wrote to stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `schemaops operator` on the kubeconfig, logging at warn, with `args` added to its command line and `env`
 * to the image's environment. It is stopped (SIGTERM, SIGKILL after 10 s) by stop() or the benchmark's cleanup.
 */
export async function spawnOperator(
  kubeconfigPath: string,
  extra: { args?: readonly string[]; env?: Readonly<Record<string, string>> } = {},
): Promise<OperatorProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const args = [
    BUNDLE,
    'operator',
    '--kubeconfig',
    kubeconfigPath,
    '--metrics-addr',
    `127.0.0.1:${metricsPort}`,
    '--health-addr',
    `127.0.0.1:${healthPort}`,
    ...(extra.args ?? []),
    '--log-level',
    'warn',
  ];
  const env = { ...process.env, ...imageEnvironment(), ...extra.env };
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  onCleanup('the operator', stop);
  return { child, metricsPort, healthPort, output: () => output, stop };
}

/** Throws, with what it wrote last, when the operator has exited. */
export function assertRunning(op: OperatorProcess): void {
  if (op.child.exitCode !== null || op.child.signalCode !== null)
    throw new Error(`the operator exited (${op.child.exitCode ?? op.child.signalCode}):\n${op.output()}`);
}

/** Waits until /readyz answers OK, failing when the operator exits or the time is up. */
export async function waitReady(op: OperatorProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    assertRunning(op);
    try {
      const response = await fetch(`http://127.0.0.1:${op.healthPort}/readyz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`the operator was not ready within ${timeoutMs} ms:\n${op.output()}`);
}

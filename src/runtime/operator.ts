import { pino, type Logger } from 'pino';
import { reconcile } from '../controller/reconcile.js';
import { TransientError } from '../controller/context.js';
import { createKubeClient, loadKubeConfig } from '../kube/client.js';
import { watchSchemaMigrations } from '../kube/watch.js';
import { WorkQueue } from './queue.js';

export interface OperatorOptions {
  readonly kubeconfigPath?: string;
  /** Watch one namespace; all namespaces when omitted. */
  readonly namespace?: string;
  readonly concurrency: number;
  readonly logLevel: string;
}

export interface RunningOperator {
  /** Resolves once the watches have listed everything. */
  readonly synced: Promise<void>;
  /** Stops taking new work, lets running reconciles finish, and stops the watches. */
  stop(): Promise<void>;
}

function keyOf(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

function refOfKey(key: string): { namespace: string; name: string } {
  const [namespace = '', name = ''] = key.split('/');
  return { namespace, name };
}

function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof TransientError) return { reason: err.reason, err: err.message };
  return { err: err instanceof Error ? err.message : String(err) };
}

/** Starts the controller: watches feed a keyed work queue whose worker is reconcile(). */
export function startOperator(
  options: OperatorOptions,
  log: Logger = pino({ level: options.logLevel }),
): RunningOperator {
  const kc = loadKubeConfig(options.kubeconfigPath ? { kubeconfigPath: options.kubeconfigPath } : {});
  const ctx = { kube: createKubeClient(kc), log, now: () => new Date() };
  const queue = new WorkQueue((key) => reconcile(ctx, refOfKey(key)), {
    concurrency: options.concurrency,
    backoffMinMs: 1_000,
    backoffMaxMs: 300_000,
    onError: (key, err, retryInMs) =>
      log.warn({ key, retryInMs, ...errorFields(err) }, 'reconcile failed; retrying'),
  });
  const watches = watchSchemaMigrations(
    kc,
    { log, ...(options.namespace ? { namespace: options.namespace } : {}) },
    (ref) => queue.add(keyOf(ref)),
  );
  log.info({ namespace: options.namespace ?? 'all', concurrency: options.concurrency }, 'operator started');
  return {
    synced: watches.synced,
    stop: async () => {
      await queue.stop();
      await watches.stop();
      log.info('operator stopped');
    },
  };
}

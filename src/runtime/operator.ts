import type { Logger } from 'pino';
import type { OperatorConfig } from '../config.js';
import {
  NotLeadingError,
  TransientError,
  type ReconcileContext,
  type RunObserver,
} from '../controller/context.js';
import { reconcile } from '../controller/reconcile.js';
import { createKubeClient, loadKubeConfig } from '../kube/client.js';
import { createEventRecorder } from '../kube/events.js';
import { createLeaseClient } from '../kube/lease.js';
import { watchSchemaMigrations, type Watches } from '../kube/watch.js';
import { createLogger } from '../log.js';
import { startHttpServers, type HttpServers } from './health.js';
import { LeaderElector } from './leader.js';
import { createMetrics, type OperatorMetrics } from './metrics.js';
import { observingStatus } from './status-metrics.js';
import { WorkQueue } from './queue.js';

export interface RunningOperator {
  /** Whether this instance leads (always, without leader election) and its watches have listed everything. */
  isSynced(): boolean;
  readonly metricsPort: number;
  readonly healthPort: number;
  /** Stops taking new steps, lets running reconciles finish, releases the lease, closes the servers. */
  stop(): Promise<void>;
}

const key = (ref: { namespace: string; name: string }) => `${ref.namespace}/${ref.name}`;

function refOfKey(text: string): { namespace: string; name: string } {
  const [namespace = '', name = ''] = text.split('/');
  return { namespace, name };
}

function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof TransientError) return { reason: err.reason, err: err.message };
  return { err: err instanceof Error ? err.message : String(err) };
}

/** The step an Event's reason belongs to: its `action` in events.k8s.io terms. */
function actionOf(reason: string): string {
  if (/^Scal/.test(reason)) return 'ScaleDown';
  if (/^Backup/.test(reason)) return 'Backup';
  if (/^(Migrat|RolledBack|RollingBack)/.test(reason)) return 'Migrate';
  if (/^Workload/.test(reason)) return 'RestoreWorkload';
  return 'Reconcile';
}

function observer(
  config: OperatorConfig,
  metrics: OperatorMetrics,
  log: Logger,
  kc: Parameters<typeof createEventRecorder>[0],
): RunObserver {
  const events = createEventRecorder(kc, {
    reportingController: 'schemaops.dev/operator',
    reportingInstance: config.identity,
    log,
  });
  return {
    event: (object, type, reason, note) =>
      void events.record(object, { type, reason, action: actionOf(reason), note }),
    migrated(direction, count, seconds) {
      metrics.migrated(direction, count, seconds);
      metrics.stepFinished('migrate', seconds);
    },
    backedUp(seconds) {
      metrics.backedUp(seconds);
      metrics.stepFinished('backup', seconds);
    },
    stepFinished: (step, seconds) => metrics.stepFinished(step, seconds),
    downtime: (seconds) => metrics.downtime(seconds),
    refused: (reason) => metrics.refused(reason),
  };
}

/** The queue whose worker is reconcile(), timed and counted. */
function workQueue(
  config: OperatorConfig,
  ctx: ReconcileContext,
  metrics: OperatorMetrics,
  log: Logger,
): WorkQueue {
  const queue = new WorkQueue(
    async (k) => {
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const result = await reconcile(ctx, refOfKey(k));
        metrics.reconciled(result.requeueAfterMs === undefined ? 'success' : 'requeue', seconds());
        return result;
      } catch (err) {
        metrics.reconciled('error', seconds());
        throw err;
      } finally {
        metrics.queueDepth(queue.depth);
      }
    },
    {
      concurrency: config.maxConcurrentReconciles,
      backoffMinMs: 1_000,
      backoffMaxMs: 300_000,
      onError: (k, err, retryInMs) => {
        if (err instanceof NotLeadingError) log.info({ key: k }, err.message);
        else log.warn({ key: k, retryInMs, ...errorFields(err) }, 'reconcile failed; retrying');
      },
    },
  );
  return queue;
}

/**
 * Starts the operator: health and metrics servers at once; the watches and the work queue only while this
 * instance leads (or always, without leader election).
 */
export async function startOperator(
  config: OperatorConfig,
  log: Logger = createLogger(config.logLevel),
): Promise<RunningOperator> {
  const kc = loadKubeConfig(config.kubeconfig ? { kubeconfigPath: config.kubeconfig } : {});
  const metrics = createMetrics();
  const ctx: ReconcileContext = {
    kube: observingStatus(createKubeClient(kc), metrics),
    log,
    now: () => new Date(),
    observer: observer(config, metrics, log, kc),
  };
  // One per term of leading: a reconcile left over from a lost term never writes, even if this process leads again.
  let work:
    | { queue: WorkQueue; watches: Watches; stopSteps: AbortController; term: { leading: boolean } }
    | undefined;
  const startWork = () => {
    if (work) return;
    const stopSteps = new AbortController();
    const term = { leading: true };
    const termCtx = {
      ...ctx,
      stopSteps: stopSteps.signal,
      isLeading: () => term.leading && (elector?.isLeader() ?? true),
    };
    const queue = workQueue(config, termCtx, metrics, log);
    const watchOptions = {
      namespaces: config.namespaces,
      resyncPeriodMs: config.resyncPeriod,
      idleTimeoutMs: config.watchIdleTimeout,
      log,
    };
    const watches = watchSchemaMigrations(kc, watchOptions, (ref, cause) => {
      queue.add(key(ref), 0, cause === 'resync' ? 'low' : 'high');
      metrics.queueDepth(queue.depth);
    });
    work = { queue, watches, stopSteps, term };
    log.info({ namespaces: config.namespaces.length > 0 ? config.namespaces : 'all' }, 'watching');
  };
  /** No new step from here on; the steps in flight finish, writing status only while the lease is held. */
  const stopWork = async (leaseLost = false) => {
    const current = work;
    work = undefined;
    if (!current) return;
    current.stopSteps.abort();
    if (leaseLost) current.term.leading = false;
    await current.queue.stop();
    await current.watches.stop();
    // The next leader reports the objects' state; this instance no longer does.
    metrics.forget();
    log.info({ leaseLost }, 'work stopped');
  };
  const elector = config.leaderElect
    ? new LeaderElector({
        client: createLeaseClient(kc),
        lease: { namespace: config.leaseNamespace, name: config.leaseName },
        identity: config.identity,
        leaseDurationMs: config.leaseDuration,
        renewDeadlineMs: config.renewDeadline,
        retryPeriodMs: config.retryPeriod,
        log,
        onStartedLeading: () => {
          metrics.leader(true);
          startWork();
        },
        onStoppedLeading: () => {
          metrics.leader(false);
          void stopWork(true);
        },
      })
    : undefined;
  // A standby is ready (it serves and waits for the lease); a leader once its watches have listed everything.
  const isSynced = () => work?.watches.isSynced() ?? false;
  const isReady = () => (elector && !elector.isLeader() ? true : isSynced());
  const servers: HttpServers = await startHttpServers({
    metricsAddr: config.metricsAddr,
    healthAddr: config.healthAddr,
    registry: metrics.registry,
    isReady,
    log,
  });
  if (elector) elector.start();
  else {
    metrics.leader(true);
    startWork();
  }
  log.info(
    {
      identity: config.identity,
      leaderElect: config.leaderElect,
      metricsPort: servers.metricsPort,
      healthPort: servers.healthPort,
    },
    'operator started',
  );
  return {
    isSynced,
    metricsPort: servers.metricsPort,
    healthPort: servers.healthPort,
    stop: async () => {
      await stopWork();
      await elector?.release();
      await servers.close();
      log.info('operator stopped');
    },
  };
}

import type { Logger } from 'pino';
import type { KubeClient, ObjectRef, StoredSchemaMigration } from '../kube/types.js';

/** The steps of a run timed from their start to their end (scaleDown and restoreWorkload span reconciles). */
export type TimedStep = 'scaleDown' | 'restoreWorkload';

/** Where a run reports what it did: Events for people, numbers for metrics. Best effort, never throws. */
export interface RunObserver {
  event(object: StoredSchemaMigration, type: 'Normal' | 'Warning', reason: string, note: string): void;
  migrated(direction: 'Up' | 'Down', count: number, seconds: number): void;
  backedUp(seconds: number): void;
  stepFinished(step: TimedStep, seconds: number): void;
  /** A run's downtime, once, when its history entry carries it. */
  downtime(seconds: number): void;
  /** A refusal started or changed its reason (the moment its Warning Event goes out). */
  refused(reason: string): void;
}

export const silentObserver: RunObserver = {
  event: () => undefined,
  migrated: () => undefined,
  backedUp: () => undefined,
  stepFinished: () => undefined,
  downtime: () => undefined,
  refused: () => undefined,
};

/** What a reconcile works with; tests pass their own clock. */
export interface ReconcileContext {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly now: () => Date;
  readonly observer?: RunObserver;
  /** Aborted when no new step may start (lease lost, SIGTERM); the step in flight finishes or fails whole. */
  readonly stopSteps?: AbortSignal;
  /** False once this process knows it lost the lease: it writes no status, which the new leader owns. */
  readonly isLeading?: () => boolean;
}

export function observerOf(ctx: ReconcileContext): RunObserver {
  return ctx.observer ?? silentObserver;
}

/** What a reconcile asks of the work queue: nothing (wait for a change), or look again after a while. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

export const DONE: ReconcileResult = {};
/** How often a run in progress looks at the workload or the Job until watches say so sooner. */
export const POLL_MS = 1_000;
export const poll: ReconcileResult = { requeueAfterMs: POLL_MS };
/** Pods going or coming: watches of the workload and its pods wake the run; this look is the fallback. */
export const pollWorkload: ReconcileResult = { requeueAfterMs: POLL_MS };

export function refOf(object: { metadata: { namespace: string; name: string } }): ObjectRef {
  return { namespace: object.metadata.namespace, name: object.metadata.name };
}

/** A failure the queue should retry with backoff (database unreachable, lock held, API errors). */
export class TransientError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TransientError';
    this.reason = reason;
  }
}

/** A status write refused because this process no longer leads; the new leader resumes the run. */
export class NotLeadingError extends Error {
  constructor() {
    super('this instance no longer leads; status left to the new leader');
    this.name = 'NotLeadingError';
  }
}

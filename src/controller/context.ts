import type { Logger } from 'pino';
import type { KubeClient, ObjectRef } from '../kube/types.js';

/** What a reconcile works with; tests pass their own clock. */
export interface ReconcileContext {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly now: () => Date;
}

/** What a reconcile asks of the work queue: nothing (wait for a change), or look again after a while. */
export interface ReconcileResult {
  readonly requeueAfterMs?: number;
}

export const DONE: ReconcileResult = {};
/** How often a run in progress looks at the workload or the Job until watches say so sooner. */
export const POLL_MS = 1_000;
export const poll: ReconcileResult = { requeueAfterMs: POLL_MS };

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

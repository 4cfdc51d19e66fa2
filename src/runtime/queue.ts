import { performance } from 'node:perf_hooks';

export type Priority = 'high' | 'low';

/** What the worker asks for: nothing, or to be called again for this key after a while. */
export interface WorkResult {
  readonly requeueAfterMs?: number;
}

export interface QueueOptions {
  readonly concurrency: number;
  /** Backoff after a failed run of a key: doubles from min to max, reset by a success. */
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly onError?: (key: string, err: unknown, retryInMs: number) => void;
}

/**
 * A work queue keyed by object: a key is never worked on twice at once, repeated adds while it waits or
 * runs coalesce into one more run, and failures are retried per key with exponential backoff.
 */
export class WorkQueue {
  /** Waiting keys and their lane: events go ahead of resync, so a resync backlog never delays a reaction. */
  private readonly waiting = new Map<string, Priority>();
  private readonly order: string[] = [];
  private readonly lowOrder: string[] = [];
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  /** Delayed adds, one per key, with when each is due (monotonic ms). */
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  private readonly failures = new Map<string, number>();
  private readonly idle: (() => void)[] = [];
  private readonly options: QueueOptions;
  private readonly work: (key: string) => Promise<WorkResult>;
  private stopped = false;

  constructor(work: (key: string) => Promise<WorkResult>, options: QueueOptions) {
    this.work = work;
    this.options = options;
  }

  /** Queues the key now, or after delayMs (the sooner of two delayed adds wins); resyncs go in the low lane. */
  add(key: string, delayMs = 0, priority: Priority = 'high'): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      this.addAfter(key, delayMs);
      return;
    }
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    const lane = this.waiting.get(key);
    if (lane === 'low' && priority === 'high') this.lowOrder.splice(this.lowOrder.indexOf(key), 1);
    if (lane === undefined || (lane === 'low' && priority === 'high')) {
      this.waiting.set(key, priority);
      (priority === 'high' ? this.order : this.lowOrder).push(key);
    }
    this.pump();
  }

  /** A pending later add is replaced, so a long backoff never swallows a short requeue. */
  private addAfter(key: string, delayMs: number): void {
    const dueAt = performance.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.dueAt <= dueAt) return;
    clearTimeout(pending?.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { timer, dueAt });
  }

  get depth(): number {
    return this.waiting.size;
  }

  /** Takes no new work, forgets timers, and resolves when the keys being worked on are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.clear();
    this.order.length = 0;
    this.lowOrder.length = 0;
    if (this.running.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.options.concurrency && this.waiting.size > 0) {
      const key = (this.order.length > 0 ? this.order.shift() : this.lowOrder.shift())!;
      this.waiting.delete(key);
      this.running.add(key);
      void this.runKey(key);
    }
  }

  private async runKey(key: string): Promise<void> {
    let next: number | undefined;
    try {
      const result = await this.work(key);
      this.failures.delete(key);
      next = result.requeueAfterMs;
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      next = Math.min(this.options.backoffMinMs * 2 ** (failures - 1), this.options.backoffMaxMs);
      this.options.onError?.(key, err, next);
    } finally {
      this.running.delete(key);
    }
    if (this.dirty.delete(key)) this.add(key);
    else if (next !== undefined) this.add(key, next);
    if (this.running.size === 0) this.idle.splice(0).forEach((resolve) => resolve());
    this.pump();
  }
}

import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { LeaseClient, LeaseRecord } from '../kube/lease.js';
import { isAlreadyExists, isConflict, type ObjectRef } from '../kube/types.js';

export interface LeaderElectorOptions {
  client: LeaseClient;
  lease: ObjectRef;
  /** Unique per process, e.g. the pod name; written as the Lease's holderIdentity. */
  identity: string;
  /** How long others wait after the last renewal before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** A leader that has not renewed for this long stops leading (default 10 s); below leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (default 2 s). */
  retryPeriodMs?: number;
  /** The wall clock written into the Lease; expiry is judged by the monotonic clock, never by it. */
  now?: () => Date;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

type Attempt = 'held' | 'heldByOther' | 'failed';

/** Races a request against a timer so a hung call cannot stall the loop; the late result is ignored. */
async function withTimeout<T>(request: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([request, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The fields whose change shows the holder is alive (client-go compares the whole record). */
function sameRecord(a: LeaseRecord | undefined, b: LeaseRecord | undefined): boolean {
  return (
    a?.holderIdentity === b?.holderIdentity &&
    a?.renewTime?.getTime() === b?.renewTime?.getTime() &&
    a?.resourceVersion === b?.resourceVersion
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: GET, then
 * create or PUT with the resourceVersion read, so of two racing candidates one gets 409 Conflict.
 */
export class LeaderElector {
  private readonly client: LeaseClient;
  private readonly lease: ObjectRef;
  private readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => Date;
  private readonly log: Logger;
  private readonly onStartedLeading: () => void;
  private readonly onStoppedLeading: () => void;
  private readonly fields: { lease: string; identity: string };

  private running = false;
  private leading = false;
  /** Bumped whenever the loop stops, so an attempt still in flight from an old loop does nothing. */
  private generation = 0;
  /** The Lease as last read or written; a leader renews from it without reading first. */
  private observed: LeaseRecord | undefined;
  /** When this process last saw the Lease change, on its own monotonic clock (client-go's observedTime). */
  private observedAt = 0;
  private observedFresh = false;
  private loopTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.client = options.client;
    this.lease = options.lease;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.now = options.now ?? (() => new Date());
    this.log = options.log;
    this.onStartedLeading = options.onStartedLeading;
    this.onStoppedLeading = options.onStoppedLeading;
    this.fields = { lease: `${this.lease.namespace}/${this.lease.name}`, identity: this.identity };
    if (this.identity === '') throw new Error('leader election needs a non-empty identity');
    // The leader must give up before anyone else may take over, and get a few tries before that.
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDurationMs > renewDeadlineMs > retryPeriodMs');
    }
    if (!(this.retryPeriodMs > 0)) throw new Error('leader election needs retryPeriodMs > 0');
  }

  /** Starts trying to acquire the Lease every retry period, and renewing it once held. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.log.info(this.fields, 'leader election started');
    this.schedule(0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Stops the loop and, if this instance holds the Lease, hands it over so another can take it at once. */
  async release(): Promise<void> {
    this.stopLoop();
    await this.inFlight;
    if (this.leading || this.observed?.holderIdentity === this.identity) await this.writeRelease();
    this.stopLeading('released the lease');
  }

  /**
   * Stops the loop without writing the Lease or calling onStoppedLeading, as if the process had died:
   * others take over only once the lease expires. For tests and for exits where the API is unreachable.
   */
  halt(): void {
    this.stopLoop();
    this.leading = false;
    this.clearDeadline();
  }

  private stopLoop(): void {
    this.running = false;
    this.generation += 1;
    clearTimeout(this.loopTimer);
    this.loopTimer = undefined;
  }

  private schedule(delayMs: number): void {
    const generation = this.generation;
    this.loopTimer = setTimeout(() => {
      this.loopTimer = undefined;
      this.inFlight = this.tick(generation);
    }, delayMs);
  }

  /** One attempt; never rejects. */
  private async tick(generation: number): Promise<void> {
    const started = performance.now();
    const outcome = await this.tryAcquireOrRenew();
    if (generation !== this.generation) return;
    if (outcome === 'held') this.held(started);
    else if (outcome === 'heldByOther')
      this.stopLeading(`lease taken by ${this.observed?.holderIdentity ?? 'another instance'}`);
    this.schedule(this.retryPeriodMs);
  }

  private held(attemptStarted: number): void {
    if (!this.leading) {
      this.leading = true;
      this.log.info(this.fields, 'started leading');
      this.notify('onStartedLeading', this.onStartedLeading);
    }
    // Counted from when the renewal was sent, since that is the renewTime others see.
    const remaining = this.renewDeadlineMs - (performance.now() - attemptStarted);
    this.clearDeadline();
    this.deadlineTimer = setTimeout(
      () => this.stopLeading('lease not renewed within the renew deadline'),
      remaining,
    );
  }

  private stopLeading(why: string): void {
    this.clearDeadline();
    if (!this.leading) return;
    this.leading = false;
    this.observedFresh = false;
    this.log.info({ ...this.fields, why }, 'stopped leading');
    this.notify('onStoppedLeading', this.onStoppedLeading);
  }

  private clearDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }

  private notify(what: string, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.log.error({ ...this.fields, err: errorMessage(err) }, `${what} threw`);
    }
  }

  private async tryAcquireOrRenew(): Promise<Attempt> {
    const now = this.now();
    try {
      if (this.leading && this.observedFresh && this.observed) {
        this.remember(
          await this.request(
            this.client.update(
              this.lease,
              this.nextRecord(this.observed, now),
              this.observed.resourceVersion,
            ),
            'renew',
          ),
        );
        return 'held';
      }
      const current = await this.request(this.client.get(this.lease), 'read');
      this.observe(current);
      if (!current) {
        this.remember(
          await this.request(this.client.create(this.lease, this.nextRecord(undefined, now)), 'create'),
        );
      } else if (this.heldByOther(current)) {
        return 'heldByOther';
      } else {
        const next = this.nextRecord(current, now);
        this.remember(
          await this.request(this.client.update(this.lease, next, current.resourceVersion), 'acquire'),
        );
      }
      this.observedFresh = true;
      return 'held';
    } catch (err) {
      this.observedFresh = false;
      const lostRace = isConflict(err) || isAlreadyExists(err);
      this.log[lostRace || !this.leading ? 'debug' : 'warn'](
        { ...this.fields, err: errorMessage(err) },
        'could not acquire or renew the lease',
      );
      return 'failed';
    }
  }

  private async request<T>(request: Promise<T>, what: string): Promise<T> {
    return withTimeout(request, this.renewDeadlineMs, `${what} of lease ${this.fields.lease}`);
  }

  private observe(current: LeaseRecord | undefined): void {
    const previous = this.observed?.holderIdentity;
    this.remember(current);
    const holder = current?.holderIdentity;
    if (holder && holder !== previous && holder !== this.identity) {
      this.log.info({ ...this.fields, holder }, 'lease held by another instance');
    }
  }

  private remember(record: LeaseRecord | undefined): void {
    if (!sameRecord(this.observed, record)) this.observedAt = performance.now();
    this.observed = record;
  }

  /**
   * Held by someone else who changed the Lease less than its duration ago by this process's clock: another
   * pod's renewTime is never compared with ours, since the two clocks may disagree by more than a lease.
   */
  private heldByOther(record: LeaseRecord): boolean {
    const holder = record.holderIdentity;
    if (!holder || holder === this.identity) return false;
    const durationMs = (record.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
    return performance.now() < this.observedAt + durationMs;
  }

  private nextRecord(current: LeaseRecord | undefined, now: Date): Omit<LeaseRecord, 'resourceVersion'> {
    const mine = current?.holderIdentity === this.identity;
    const transitions = current?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.identity,
      // The API takes whole seconds; rounding up never lets others in before the renew deadline.
      leaseDurationSeconds: Math.max(1, Math.ceil(this.leaseDurationMs / 1000)),
      acquireTime: mine && current.acquireTime ? current.acquireTime : now,
      renewTime: now,
      leaseTransitions: current === undefined ? 0 : mine ? transitions : transitions + 1,
    };
  }

  /** client-go's ReleaseOnCancel: no holder and a 1 s duration, so a waiting candidate acquires next try. */
  private async writeRelease(): Promise<void> {
    try {
      const current = await this.request(this.client.get(this.lease), 'read');
      if (current?.holderIdentity !== this.identity) return;
      const now = this.now();
      const released = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: current.leaseTransitions ?? 0,
      };
      this.remember(
        await this.request(this.client.update(this.lease, released, current.resourceVersion), 'release'),
      );
      this.log.info(this.fields, 'released the lease');
    } catch (err) {
      this.log.warn({ ...this.fields, err: errorMessage(err) }, 'could not release the lease');
    }
  }
}

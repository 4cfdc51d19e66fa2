import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createLeaseClient, type LeaseClient, type LeaseRecord } from '../../src/kube/lease.js';
import { isConflict, type ObjectRef } from '../../src/kube/types.js';
import { startClusterWithFaults, type ClusterWithFaults } from '../support/fault-proxy.js';
import { LeaderElector } from '../../src/runtime/leader.js';
import { waitFor } from '../support/wait.js';

// Whole seconds for the lease, since that is what leaseDurationSeconds can say.
// A renew deadline of seconds, not tenths: a loaded machine can hold a Lease write back that long.
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };
const namespace = 'default';
const log = pino({ level: 'silent' });

let cluster: ClusterWithFaults;
let client: LeaseClient;
let leaseCount = 0;
const electors: LeaderElector[] = [];

interface Candidate {
  readonly identity: string;
  readonly elector: LeaderElector;
  started: number;
  stopped: number;
  stoppedAt?: number;
}

function newLease(): ObjectRef {
  leaseCount += 1;
  return { namespace, name: `schemaops-leader-${leaseCount}` };
}

/** A candidate whose wall clock is `clockOffsetMs` off the real one, as a pod on a drifting node. */
function candidate(lease: ObjectRef, identity: string, clockOffsetMs = 0): Candidate {
  const self: Partial<Candidate> & { started: number; stopped: number } = { started: 0, stopped: 0 };
  const elector = new LeaderElector({
    client,
    lease,
    identity,
    ...timing,
    now: () => new Date(Date.now() + clockOffsetMs),
    log,
    onStartedLeading: () => {
      self.started += 1;
    },
    onStoppedLeading: () => {
      self.stopped += 1;
      self.stoppedAt = Date.now();
    },
  });
  electors.push(elector);
  return Object.assign(self, { identity, elector });
}

async function leaseOf(ref: ObjectRef): Promise<LeaseRecord> {
  const record = await client.get(ref);
  if (!record) throw new Error(`Lease ${ref.namespace}/${ref.name} does not exist`);
  return record;
}

/** Samples `check` every 50 ms for `ms`, failing on the first sample where it does not hold. */
async function holdsFor(ms: number, check: () => void): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    check();
    await sleep(50);
  }
  check();
}

function leaders(...candidates: Candidate[]): string[] {
  return candidates.filter((c) => c.elector.isLeader()).map((c) => c.identity);
}

beforeAll(async () => {
  cluster = await startClusterWithFaults();
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig());
  client = createLeaseClient(kc);
});

afterEach(() => {
  for (const elector of electors.splice(0)) elector.halt();
  cluster.faults.clear();
});

afterAll(async () => {
  await cluster.stop();
});

describe('LeaderElector', () => {
  it('acquires a missing Lease and keeps renewing it with microsecond times the server accepts', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    expect(a.started).toBe(1);

    const first = await leaseOf(lease);
    expect(first).toMatchObject({
      holderIdentity: 'schemaops-a',
      leaseDurationSeconds: timing.leaseDurationMs / 1000,
      leaseTransitions: 0,
    });
    expect(first.acquireTime).toBeInstanceOf(Date);
    const firstRenew = first.renewTime!.getTime();

    const later = await waitFor(
      async () => {
        const record = await leaseOf(lease);
        return record.renewTime!.getTime() > firstRenew && record;
      },
      { what: 'renewTime to advance' },
    );
    expect(later.acquireTime).toEqual(first.acquireTime);
    expect(later.holderIdentity).toBe('schemaops-a');
    expect(later.leaseTransitions).toBe(0);

    const raw = await fetch(
      `${cluster.url}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${lease.name}`,
      { headers: { Authorization: `Bearer ${cluster.adminToken}` } },
    );
    const body = (await raw.json()) as { spec: Record<string, unknown> };
    expect(body.spec.renewTime).toMatch(/\.\d{6}Z$/);
    expect(body.spec.acquireTime).toMatch(/\.\d{6}Z$/);
    expect(a.stopped).toBe(0);
  });

  it('lets exactly one of two candidates lead, and the same one throughout', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    const b = candidate(lease, 'schemaops-b');
    a.elector.start();
    b.elector.start();
    const [leader] = await waitFor(() => leaders(a, b).length > 0 && leaders(a, b), { what: 'a leader' });

    await holdsFor(2 * timing.leaseDurationMs, () => expect(leaders(a, b)).toEqual([leader]));
    const [winner, loser] = leader === a.identity ? [a, b] : [b, a];
    expect(winner.started).toBe(1);
    expect(winner.stopped).toBe(0);
    expect(loser.started).toBe(0);
    expect((await leaseOf(lease)).holderIdentity).toBe(winner.identity);
  });

  it('hands over to the other candidate within the lease duration after the leader dies', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    const b = candidate(lease, 'schemaops-b');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    b.elector.start();
    await holdsFor(3 * timing.retryPeriodMs, () => expect(leaders(a, b)).toEqual(['schemaops-a']));

    a.elector.halt();
    const died = Date.now();
    await waitFor(() => b.elector.isLeader(), { what: 'b to take over', timeoutMs: 10_000 });
    const tookOverAfter = Date.now() - died;

    // Not before the lease has expired (the last renewal was at most one retry period before the death)…
    expect(tookOverAfter).toBeGreaterThanOrEqual(timing.leaseDurationMs - 2 * timing.retryPeriodMs);
    // …and no later than one retry period after it has.
    expect(tookOverAfter).toBeLessThan(timing.leaseDurationMs + timing.retryPeriodMs + 500);
    expect(await leaseOf(lease)).toMatchObject({ holderIdentity: 'schemaops-b', leaseTransitions: 1 });
    expect(a.stopped).toBe(0);
    expect(b.started).toBe(1);
  });

  it('hands over almost at once when the leader releases the Lease', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    const b = candidate(lease, 'schemaops-b');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    b.elector.start();
    await holdsFor(2 * timing.retryPeriodMs, () => expect(leaders(a, b)).toEqual(['schemaops-a']));

    const released = Date.now();
    await a.elector.release();
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    await waitFor(() => b.elector.isLeader(), { what: 'b to take over', timeoutMs: 10_000 });

    expect(Date.now() - released).toBeLessThan(timing.retryPeriodMs + 500);
    expect(await leaseOf(lease)).toMatchObject({ holderIdentity: 'schemaops-b', leaseTransitions: 1 });
    expect(a.started).toBe(1);
  });

  it('stops leading within the renew deadline when renewals fail, and leads again once they succeed', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    await waitFor(async () => (await leaseOf(lease)).resourceVersion !== '', { what: 'the Lease' });

    cluster.faults.failNext({
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${lease.name}`,
      status: 500,
      count: 1_000_000,
    });
    const failing = Date.now();
    await waitFor(() => a.stopped === 1, { what: 'a to stop leading', timeoutMs: 10_000 });

    // The deadline runs from the last successful renewal, which was before the failures began.
    expect(a.stoppedAt! - failing).toBeLessThanOrEqual(timing.renewDeadlineMs + 2 * timing.retryPeriodMs);
    expect(a.elector.isLeader()).toBe(false);

    cluster.faults.clear();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead again' });
    expect(a.started).toBe(2);
  });

  it('does not take the Lease from a healthy leader although its own clock is 20 s ahead', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    const b = candidate(lease, 'schemaops-b', 20_000);
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    b.elector.start();

    await holdsFor(2 * timing.leaseDurationMs, () => expect(leaders(a, b)).toEqual(['schemaops-a']));
    expect(a.stopped).toBe(0);
    expect(b.started).toBe(0);
    expect(await leaseOf(lease)).toMatchObject({ holderIdentity: 'schemaops-a', leaseTransitions: 0 });
  });

  it('takes over from a dead leader within the lease duration although its own clock is 20 s behind', async () => {
    const lease = newLease();
    const a = candidate(lease, 'schemaops-a');
    const b = candidate(lease, 'schemaops-b', -20_000);
    a.elector.start();
    await waitFor(() => a.elector.isLeader(), { what: 'a to lead' });
    b.elector.start();
    await holdsFor(3 * timing.retryPeriodMs, () => expect(leaders(a, b)).toEqual(['schemaops-a']));

    a.elector.halt();
    const died = Date.now();
    await waitFor(() => b.elector.isLeader(), { what: 'b to take over', timeoutMs: 10_000 });
    expect(Date.now() - died).toBeLessThan(timing.leaseDurationMs + timing.retryPeriodMs + 500);
    expect(await leaseOf(lease)).toMatchObject({ holderIdentity: 'schemaops-b', leaseTransitions: 1 });
  });

  it('does not lead when the Lease is held by another live holder', async () => {
    const lease = newLease();
    const now = new Date();
    await client.create(lease, {
      holderIdentity: 'someone-else',
      leaseDurationSeconds: 3_600,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 4,
    });
    const a = candidate(lease, 'schemaops-a');
    a.elector.start();
    await holdsFor(4 * timing.retryPeriodMs, () => expect(a.elector.isLeader()).toBe(false));
    expect(await leaseOf(lease)).toMatchObject({ holderIdentity: 'someone-else', leaseTransitions: 4 });
  });
});

describe('LeaseClient', () => {
  it('answers a replace with a stale resourceVersion with 409 Conflict', async () => {
    const lease = newLease();
    const now = new Date();
    const created = await client.create(lease, {
      holderIdentity: 'x',
      leaseDurationSeconds: 1,
      renewTime: now,
    });
    await client.update(
      lease,
      { holderIdentity: 'y', leaseDurationSeconds: 1, renewTime: now },
      created.resourceVersion,
    );

    const stale = client.update(lease, { holderIdentity: 'z', renewTime: now }, created.resourceVersion);
    await expect(stale.catch((err: unknown) => isConflict(err))).resolves.toBe(true);
    expect(await client.get(newLease())).toBeUndefined();
  });
});

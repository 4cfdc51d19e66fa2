import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { call } from './errors.js';
import { KubeApiError, type ObjectRef } from './types.js';

/** The spec of a coordination.k8s.io/v1 Lease, as leader election reads and writes it. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions?: number;
  resourceVersion: string;
}

/** Lease verbs for leader election: GET, then create or PUT with the resourceVersion last read. */
export interface LeaseClient {
  /** The Lease, or undefined when it does not exist. */
  get(ref: ObjectRef): Promise<LeaseRecord | undefined>;
  /** Creates the Lease; AlreadyExists surfaces as a KubeApiError. */
  create(ref: ObjectRef, record: Omit<LeaseRecord, 'resourceVersion'>): Promise<LeaseRecord>;
  /** Replaces the Lease's spec; a stale resourceVersion fails with a 409 KubeApiError (see isConflict). */
  update(
    ref: ObjectRef,
    record: Omit<LeaseRecord, 'resourceVersion'>,
    resourceVersion: string,
  ): Promise<LeaseRecord>;
}

/** The library types MicroTime fields as dates but hands back the wire string. */
function toDate(value: unknown): Date | undefined {
  if (!(value instanceof Date) && typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function toRecord(lease: V1Lease): LeaseRecord {
  const spec: V1LeaseSpec = lease.spec ?? {};
  const acquireTime = toDate(spec.acquireTime);
  const renewTime = toDate(spec.renewTime);
  return {
    ...(spec.holderIdentity !== undefined ? { holderIdentity: spec.holderIdentity } : {}),
    ...(spec.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: spec.leaseDurationSeconds } : {}),
    ...(acquireTime ? { acquireTime } : {}),
    ...(renewTime ? { renewTime } : {}),
    ...(spec.leaseTransitions !== undefined ? { leaseTransitions: spec.leaseTransitions } : {}),
    resourceVersion: lease.metadata?.resourceVersion ?? '',
  };
}

/** MicroTime needs exactly six fractional digits on the wire, which V1MicroTime serialises. */
function toSpec(record: Omit<LeaseRecord, 'resourceVersion'>): V1LeaseSpec {
  return {
    ...(record.holderIdentity !== undefined ? { holderIdentity: record.holderIdentity } : {}),
    ...(record.leaseDurationSeconds !== undefined
      ? { leaseDurationSeconds: record.leaseDurationSeconds }
      : {}),
    ...(record.acquireTime ? { acquireTime: new V1MicroTime(record.acquireTime) } : {}),
    ...(record.renewTime ? { renewTime: new V1MicroTime(record.renewTime) } : {}),
    ...(record.leaseTransitions !== undefined ? { leaseTransitions: record.leaseTransitions } : {}),
  };
}

function named(ref: ObjectRef): string {
  return `Lease ${ref.namespace}/${ref.name}`;
}

/** The coordination.k8s.io/v1 Lease client over @kubernetes/client-node. */
export function createLeaseClient(kc: KubeConfig): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async get(ref) {
      try {
        return toRecord(await call(`get ${named(ref)}`, () => api.readNamespacedLease(ref)));
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    async create(ref, record) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: ref.name, namespace: ref.namespace },
        spec: toSpec(record),
      };
      const created = await call(`create ${named(ref)}`, () =>
        api.createNamespacedLease({ namespace: ref.namespace, body }),
      );
      return toRecord(created);
    },
    async update(ref, record, resourceVersion) {
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: ref.name, namespace: ref.namespace, resourceVersion },
        spec: toSpec(record),
      };
      const replaced = await call(`replace ${named(ref)}`, () =>
        api.replaceNamespacedLease({ name: ref.name, namespace: ref.namespace, body }),
      );
      return toRecord(replaced);
    },
  };
}

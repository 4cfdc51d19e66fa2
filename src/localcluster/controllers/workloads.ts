import { randomSuffix } from '../apiserver/lifecycle.js';
import { isRecord, nowTimestamp, type KubeObject } from '../apiserver/types.js';
import { isConflict, isNotFound, type ClusterAccess } from './access.js';

export interface WorkloadControllerOptions {
  /** How long pods take to stop or become ready. */
  delayMs?: number;
}

const kinds: Record<string, { resource: string; kind: string }> = {
  'apps/deployments': { resource: 'deployments', kind: 'Deployment' },
  'apps/statefulsets': { resource: 'statefulsets', kind: 'StatefulSet' },
};

function rec(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function desiredReplicas(workload: KubeObject): number {
  const replicas = rec(workload.spec).replicas;
  return typeof replicas === 'number' ? replicas : 1;
}

function ownedBy(pod: KubeObject, uid: string): boolean {
  return (pod.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

function condition(type: string, reason: string, message: string): Record<string, string> {
  const now = nowTimestamp();
  return { type, status: 'True', lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** The status a real controller reports once `replicas` pods run, with zero counts omitted as the API does. */
export function workloadStatus(
  kind: string,
  workload: KubeObject,
  replicas: number,
): Record<string, unknown> {
  const status: Record<string, unknown> = { observedGeneration: workload.metadata.generation ?? 1 };
  const counts = {
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
  };
  for (const [key, value] of Object.entries(counts)) if (value !== 0) status[key] = value;
  if (kind === 'StatefulSet') {
    status.replicas = replicas;
    status.availableReplicas = replicas;
    if (replicas !== 0) status.currentReplicas = replicas;
    status.currentRevision = `${workload.metadata.name ?? ''}-${String(workload.metadata.generation ?? 1)}`;
    status.updateRevision = status.currentRevision;
    status.collisionCount = 0;
    return status;
  }
  const name = workload.metadata.name ?? '';
  status.conditions = [
    condition('Available', 'MinimumReplicasAvailable', 'Deployment has minimum availability.'),
    condition('Progressing', 'NewReplicaSetAvailable', `ReplicaSet "${name}" has successfully progressed.`),
  ];
  return status;
}

function settled(workload: KubeObject, kind: string): boolean {
  const status = rec(workload.status);
  const replicas = desiredReplicas(workload);
  const reported = typeof status.replicas === 'number' ? status.replicas : 0;
  const ready = typeof status.readyReplicas === 'number' ? status.readyReplicas : 0;
  return (
    status.observedGeneration === workload.metadata.generation &&
    reported === replicas &&
    ready === replicas &&
    kind !== ''
  );
}

/**
 * Simulates the Deployment and StatefulSet controllers: after a delay, pods matching the template exist
 * in the number `spec.replicas` asks for, and status reports them.
 */
export class WorkloadController {
  private readonly access: ClusterAccess;
  private readonly delayMs: number;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(access: ClusterAccess, options: WorkloadControllerOptions = {}) {
    this.access = access;
    this.delayMs = options.delayMs ?? 200;
  }

  start(): void {
    this.unsubscribe = this.access.onChange((event) => {
      if (kinds[event.key] && event.type !== 'DELETED') this.schedule(event.key, event.object);
    });
    for (const key of Object.keys(kinds)) {
      const { resource } = kinds[key] ?? { resource: '' };
      for (const workload of this.access.list('apps', resource)) this.schedule(key, workload);
    }
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(key: string, workload: KubeObject): void {
    if (settled(workload, kinds[key]?.kind ?? '')) return;
    const id = `${key}/${workload.metadata.namespace ?? ''}/${workload.metadata.name ?? ''}`;
    if (this.timers.has(id)) return;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.reconcile(key, workload.metadata.namespace, workload.metadata.name ?? '');
    }, this.delayMs);
    this.timers.set(id, timer);
  }

  private reconcile(key: string, namespace: string | undefined, name: string): void {
    const { resource, kind } = kinds[key] ?? { resource: '', kind: '' };
    const workload = this.access.get('apps', resource, namespace, name);
    if (!workload || workload.metadata.deletionTimestamp) return;
    const replicas = desiredReplicas(workload);
    try {
      this.syncPods(kind, workload, replicas);
      this.access.updateStatus('apps', resource, {
        ...workload,
        status: workloadStatus(kind, workload, replicas),
      });
    } catch (err) {
      if (isConflict(err)) this.schedule(key, workload);
      else if (!isNotFound(err)) throw err;
    }
  }

  private syncPods(kind: string, workload: KubeObject, replicas: number): void {
    const uid = workload.metadata.uid ?? '';
    const pods = this.access
      .list('', 'pods', workload.metadata.namespace)
      .filter((p) => ownedBy(p, uid) && !p.metadata.deletionTimestamp);
    pods.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    for (const pod of pods.slice(replicas))
      this.access.delete('', 'pods', { namespace: pod.metadata.namespace, name: pod.metadata.name ?? '' });
    for (let i = pods.length; i < replicas; i++) {
      const pod = this.podFor(kind, workload, i);
      const created = this.access.create('', 'pods', pod);
      this.access.updateStatus('', 'pods', { ...created, status: pod.status });
    }
  }

  private podFor(kind: string, workload: KubeObject, ordinal: number): KubeObject {
    const template = rec(rec(workload.spec).template);
    const meta = rec(template.metadata);
    const base = workload.metadata.name ?? '';
    const name =
      kind === 'StatefulSet' ? `${base}-${ordinal}` : `${base}-${randomSuffix(10)}-${randomSuffix()}`;
    const now = nowTimestamp();
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: workload.metadata.namespace,
        labels: { ...(rec(meta.labels) as Record<string, string>) },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind,
            name: base,
            uid: workload.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(rec(template.spec)),
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
        startTime: now,
      },
    };
  }
}

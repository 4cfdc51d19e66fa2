import type { V1ConfigMap, V1Job, V1ObjectMeta } from '@kubernetes/client-node';
import type { SchemaMigrationStatus } from '../api/v1alpha1/status.js';
import type { WorkloadKind } from '../api/v1alpha1/spec.js';

export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * A ConfigMap's entries by key: those of `data` as text, those of `binaryData` as their bytes (a Buffer), for the
 * reader to decode or refuse by name. The API keeps the keys of the two apart.
 */
export type ConfigMapData = Record<string, string | Buffer>;

/** A SchemaMigration as stored: the spec is not validated yet, the reconciler does that. */
export interface StoredSchemaMigration {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta & { name: string; namespace: string; uid: string; resourceVersion: string };
  spec: unknown;
  status?: SchemaMigrationStatus;
}

/** What the reconciler needs of a Deployment or StatefulSet. */
export interface WorkloadState {
  /** metadata.uid: tells the workload a run scaled from another of the same name created since. */
  readonly uid: string;
  /** spec.replicas (the scale subresource's spec). */
  readonly replicas: number;
  /** Pods of the workload (by its selector) that exist, terminating ones included; 0 once scale-down has finished. */
  readonly currentReplicas: number;
  /** status.availableReplicas: pods ready to serve. */
  readonly availableReplicas: number;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The result of reading one key of a Secret: whether the Secret exists, and the key's value if present. */
export type SecretValue =
  { readonly found: false } | { readonly found: true; readonly value: string | undefined };

/** A failed API call, with the HTTP status and the Status reason (NotFound, AlreadyExists, Conflict, …). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export const isConflict = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409 && err.reason === 'Conflict';
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.reason === 'AlreadyExists';
export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;

/**
 * The few verbs the operator uses, over the raw client library. Reads return undefined for NotFound;
 * every other failure is a KubeApiError. Nothing here logs or returns a Secret's value except getSecretValue.
 */
export interface KubeClient {
  getSchemaMigration(ref: ObjectRef): Promise<StoredSchemaMigration | undefined>;
  /** All SchemaMigrations in a namespace, or in every namespace when namespace is undefined. */
  listSchemaMigrations(namespace?: string): Promise<StoredSchemaMigration[]>;
  /**
   * Merge-patches the status subresource with `status` (null deletes a field), failing with a 409 KubeApiError
   * when resourceVersion is given and stale. Returns the updated object.
   */
  patchSchemaMigrationStatus(
    ref: ObjectRef,
    status: Record<string, unknown>,
    resourceVersion: string | undefined,
  ): Promise<StoredSchemaMigration>;
  /** Replaces metadata.finalizers (merge patch with the resourceVersion as a precondition). */
  setSchemaMigrationFinalizers(
    ref: ObjectRef,
    finalizers: string[],
    resourceVersion: string,
  ): Promise<StoredSchemaMigration>;

  getSecretValue(ref: ObjectRef, key: string): Promise<SecretValue>;
  /** A ConfigMap's data and binaryData, or undefined when it does not exist. */
  getConfigMapData(ref: ObjectRef): Promise<ConfigMapData | undefined>;
  /** ConfigMaps matching all the labels, by name, sorted by name. */
  listConfigMapData(
    namespace: string,
    matchLabels: Record<string, string>,
  ): Promise<{ name: string; data: ConfigMapData }[]>;
  pvcExists(ref: ObjectRef): Promise<boolean>;
  /** Creates the ConfigMap, or replaces the one of that name (one the operator owns). */
  saveConfigMap(configMap: V1ConfigMap): Promise<void>;

  getWorkload(kind: WorkloadKind, ref: ObjectRef): Promise<WorkloadState | undefined>;
  /** Sets spec.replicas through the scale subresource. */
  scaleWorkload(kind: WorkloadKind, ref: ObjectRef, replicas: number): Promise<void>;
  /** Merge-patches metadata.annotations of the workload; null removes a key. */
  annotateWorkload(
    kind: WorkloadKind,
    ref: ObjectRef,
    annotations: Record<string, string | null>,
  ): Promise<void>;

  getJob(ref: ObjectRef): Promise<V1Job | undefined>;
  /** Creates the Job; AlreadyExists surfaces as a KubeApiError (see isAlreadyExists). */
  createJob(job: V1Job): Promise<V1Job>;
  /** How the Job's last terminated pod ended (its first container: exit code, termination message), if any pod has terminated. */
  getJobPodEnd(ref: ObjectRef): Promise<JobPodEnd | undefined>;
}

/** A terminated pod of a Job: its first container's exit code and termination message. */
export interface JobPodEnd {
  readonly exitCode: number;
  readonly message: string | undefined;
}

import { randomUUID } from 'node:crypto';
import { ApiError, badRequest, conflict, type FieldError } from './errors.js';
import type { ResourceType } from './resources.js';
import { isRecord, jsonEqual, nowTimestamp, type KubeObject } from './types.js';

const subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** metadata.name rules: DNS-1123 subdomains, labels for namespaces. */
export function nameErrors(type: ResourceType, name: string): FieldError[] {
  const isLabel = type.plural === 'namespaces' && type.group === '';
  const ok = isLabel ? label.test(name) && name.length <= 63 : subdomain.test(name) && name.length <= 253;
  if (ok) return [];
  const detail = isLabel
    ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  return [{ type: 'Invalid', field: 'metadata.name', value: name, detail }];
}

const alphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** The five random characters a real server appends to generateName. */
export function randomSuffix(length = 5): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)] ?? 'x';
  return out;
}

/** Fills in what the server owns on create: name from generateName, uid, creationTimestamp, generation. */
export function assignCreateMetadata(
  type: ResourceType,
  object: KubeObject,
  namespace: string | undefined,
): void {
  const meta = object.metadata;
  if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
  if (type.namespaced) meta.namespace = namespace;
  else delete meta.namespace;
  meta.uid = randomUUID();
  meta.creationTimestamp = nowTimestamp();
  if (type.hasGeneration) meta.generation = 1;
  else delete meta.generation;
  delete meta.deletionTimestamp;
  delete meta.deletionGracePeriodSeconds;
  delete meta.selfLink;
}

const preservedMetadata = [
  'name',
  'namespace',
  'uid',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generation',
  'managedFields',
] as const;

/** A PUT or PATCH of the main resource: server-owned metadata stays, and status stays under a status subresource. */
export function mainUpdate(type: ResourceType, old: KubeObject, candidate: KubeObject): KubeObject {
  const next: KubeObject = { ...candidate, metadata: { ...candidate.metadata } };
  const meta = next.metadata as Record<string, unknown>;
  for (const key of preservedMetadata) {
    if (old.metadata[key] === undefined) delete meta[key];
    else meta[key] = old.metadata[key];
  }
  if (type.status) {
    if (old.status === undefined) delete next.status;
    else next.status = old.status;
  }
  return next;
}

/** A write to /status: everything but status comes from the stored object; a body without status clears it. */
export function statusUpdate(old: KubeObject, candidate: KubeObject): KubeObject {
  const next: KubeObject = { ...structuredClone(old) };
  if (candidate.status === undefined) delete next.status;
  else next.status = candidate.status;
  return next;
}

function withoutMetaAndStatus(object: KubeObject, keepStatus: boolean): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...object };
  delete rest.metadata;
  delete rest.apiVersion;
  delete rest.kind;
  if (!keepStatus) delete rest.status;
  return rest;
}

/** Bumps generation when anything outside metadata changed (status too when there is no status subresource). */
export function bumpGeneration(type: ResourceType, old: KubeObject, next: KubeObject): void {
  if (!type.hasGeneration) return;
  const specChanged = !jsonEqual(
    withoutMetaAndStatus(old, !type.status),
    withoutMetaAndStatus(next, !type.status),
  );
  const annotationsChanged =
    type.generationOnAnnotations &&
    !jsonEqual(old.metadata.annotations ?? {}, next.metadata.annotations ?? {});
  if (specChanged || annotationsChanged) next.metadata.generation = (old.metadata.generation ?? 0) + 1;
}

/** Once deletion has begun, finalizers may only be removed. */
export function finalizerErrors(old: KubeObject, next: KubeObject): FieldError[] {
  if (!old.metadata.deletionTimestamp) return [];
  const before = new Set(old.metadata.finalizers ?? []);
  const added = (next.metadata.finalizers ?? []).filter((f) => !before.has(f));
  if (added.length === 0) return [];
  return [
    {
      type: 'Forbidden',
      field: 'metadata.finalizers',
      detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
    },
  ];
}

/** Same object apart from its resourceVersion: the write is a no-op. */
export function unchanged(old: KubeObject, next: KubeObject): boolean {
  const a = { ...old, metadata: { ...old.metadata, resourceVersion: undefined } };
  const b = { ...next, metadata: { ...next.metadata, resourceVersion: undefined } };
  return jsonEqual(a, b);
}

/** Checks a body's resourceVersion against the stored object. */
export function checkPrecondition(type: ResourceType, old: KubeObject, rv: unknown): void {
  if (rv === undefined || rv === null || rv === '') return;
  if (typeof rv !== 'string')
    throw badRequest(
      `json: cannot unmarshal number into Go struct field ObjectMeta.metadata.resourceVersion of type string`,
    );
  if (rv !== old.metadata.resourceVersion) throw conflict(type.group, type.plural, old.metadata.name ?? '');
}

/** DeleteOptions.preconditions. */
export function checkDeletePreconditions(
  type: ResourceType,
  old: KubeObject,
  options: Record<string, unknown>,
): void {
  const pre = isRecord(options.preconditions) ? options.preconditions : {};
  const name = old.metadata.name ?? '';
  if (typeof pre.uid === 'string' && pre.uid !== old.metadata.uid) {
    throw conflict(
      type.group,
      type.plural,
      name,
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`,
    );
  }
  if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== old.metadata.resourceVersion) {
    throw conflict(
      type.group,
      type.plural,
      name,
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`,
    );
  }
}

/** The finalizer a propagation policy asks for, as the garbage collector understands them. */
export function propagationFinalizer(
  type: ResourceType,
  options: Record<string, unknown>,
): string | undefined {
  let policy = typeof options.propagationPolicy === 'string' ? options.propagationPolicy : undefined;
  if (policy === undefined && typeof options.orphanDependents === 'boolean')
    policy = options.orphanDependents ? 'Orphan' : 'Background';
  policy ??= type.defaultPropagation;
  if (policy === 'Foreground') return 'foregroundDeletion';
  if (policy === 'Orphan') return 'orphan';
  if (policy !== 'Background') {
    throw new ApiError(
      422,
      'Invalid',
      `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}"`,
    );
  }
  return undefined;
}

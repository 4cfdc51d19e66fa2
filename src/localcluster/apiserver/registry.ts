import { parse as parseYaml } from 'yaml';
import { serverSideApply, managedFieldsForCreate, recordUpdateOwnership } from './apply.js';
import { builtinHooks } from './builtins.js';
import { acceptCrd, resourceTypeFromCrd, validateCrd } from './crd.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  internalError,
  invalid,
  notFound,
  unsupportedMediaType,
  type FieldError,
} from './errors.js';
import {
  assignCreateMetadata,
  bumpGeneration,
  checkDeletePreconditions,
  checkPrecondition,
  finalizerErrors,
  mainUpdate,
  nameErrors,
  propagationFinalizer,
  statusUpdate,
  unchanged,
} from './lifecycle.js';
import { applyJsonPatch, mergePatch, strategicMerge } from './patch.js';
import { apiVersionOf, builtinResources, type ResourceType } from './resources.js';
import { applyDefaults, prune, validate } from './schema.js';
import { matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import { ObjectStore } from './store.js';
import { collectionKey, isRecord, nowTimestamp, type KubeObject } from './types.js';

/** How unknown fields in a write are treated (the `fieldValidation` query parameter). */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

/** Per-request options of a write. */
export interface WriteOptions {
  /** The API version the request was made in. */
  version: string;
  /** The field manager: the `fieldManager` parameter, else the client's user agent. */
  manager: string;
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  /** Collects `Warning` headers for the response. */
  warnings?: string[];
  force?: boolean;
  /** Set for PATCH, where strict field validation answers 422 rather than 400. */
  isPatch?: boolean;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Maps a PATCH Content-Type to its kind. */
export function patchTypeOf(contentType: string): PatchType {
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const kinds: Record<string, PatchType> = {
    'application/json-patch+json': 'json',
    'application/merge-patch+json': 'merge',
    'application/strategic-merge-patch+json': 'strategic',
    'application/apply-patch+yaml': 'apply',
    'application/apply-patch+cbor': 'apply',
  };
  const kind = kinds[media];
  if (!kind) throw unsupportedMediaType(contentType);
  return kind;
}

/** The object a write addresses. */
export interface WriteTarget {
  namespace: string | undefined;
  name: string;
  subresource?: 'status';
}

interface UpdateChange {
  old: KubeObject;
  candidate: KubeObject;
  subresource?: 'status';
  /** The candidate comes from server-side apply and carries its managedFields. */
  applied?: boolean;
}

export interface DeleteResult {
  /** The object, when deletion waits on finalizers; undefined once it is gone. */
  pending?: KubeObject;
  deleted?: KubeObject;
}

const systemNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * The REST semantics over the store: create, update, patch and delete with the metadata, generation,
 * finalizer, subresource and validation rules of a real API server.
 */
export class Registry {
  readonly store: ObjectStore;
  private readonly types = new Map<string, ResourceType>();

  constructor(store: ObjectStore) {
    this.store = store;
    for (const type of builtinResources())
      this.types.set(collectionKey({ group: type.group, resource: type.plural }), type);
    const nsType = this.mustType('', 'namespaces');
    for (const name of systemNamespaces)
      this.create(nsType, undefined, { metadata: { name } }, { version: 'v1', manager: 'kube-apiserver' });
  }

  /** Every served resource. */
  allTypes(): ResourceType[] {
    return [...this.types.values()];
  }

  typeByKey(key: string): ResourceType | undefined {
    return this.types.get(key);
  }

  /** The resource served at group/version/plural, if that version is served. */
  findType(group: string, version: string, plural: string): ResourceType | undefined {
    const type = this.types.get(`${group}/${plural}`);
    return type && type.versions.includes(version) ? type : undefined;
  }

  mustType(group: string, plural: string): ResourceType {
    const type = this.types.get(`${group}/${plural}`);
    if (!type) throw new Error(`unknown resource ${plural}.${group}`);
    return type;
  }

  /** The stored object (not a copy), or a 404. */
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.store.get(keyOf(type), type.namespaced ? namespace : undefined, name);
    if (!object) throw notFound(type.group, type.plural, name);
    return object;
  }

  tryGet(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(keyOf(type), type.namespaced ? namespace : undefined, name);
  }

  list(
    type: ResourceType,
    namespace: string | undefined,
    labels: LabelSelector = [],
    fields: FieldSelector = [],
  ): KubeObject[] {
    return this.store
      .list(keyOf(type), type.namespaced ? namespace : undefined)
      .filter((o) => matchesLabels(o.metadata.labels, labels) && matchesFields(o, fields));
  }

  /** An object as served in one version of its resource. */
  present(type: ResourceType, object: KubeObject, version: string): KubeObject {
    const apiVersion = apiVersionOf(type.group, version);
    return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
  }

  create(
    type: ResourceType,
    namespace: string | undefined,
    body: unknown,
    options: WriteOptions,
  ): KubeObject {
    const object = decodeBody(type, body);
    if (object.metadata.resourceVersion)
      throw internalError('resourceVersion should not be set on objects to be created');
    this.checkNamespace(type, namespace, object);
    assignCreateMetadata(type, object, namespace);
    const name = object.metadata.name ?? '';
    if (name === '')
      throw invalid(type.group, type.kind, '', [
        { type: 'Required', field: 'metadata.name', detail: 'name or generateName is required' },
      ]);
    builtinHooks[keyOf(type)]?.prepareCreate?.(object);
    if (type.custom && type.status) delete object.status;
    this.admit(type, object, undefined, options);
    if (this.tryGet(type, namespace, name)) throw alreadyExists(type.group, type.plural, name);
    if (isCrd(type)) acceptCrd(object);
    if (options.dryRun) return object;
    this.store.commit('ADDED', keyOf(type), object);
    if (isCrd(type)) this.registerCrd(object);
    return object;
  }

  /** PUT: replaces the object (or only its status); creates it where the resource allows. */
  update(
    type: ResourceType,
    target: WriteTarget,
    body: unknown,
    options: WriteOptions,
  ): { object: KubeObject; created: boolean } {
    const object = decodeBody(type, body);
    checkBodyName(object, target.name);
    this.checkNamespace(type, target.namespace, object);
    const old = this.tryGet(type, target.namespace, target.name);
    if (!old) {
      if (type.createOnUpdate && !target.subresource)
        return { object: this.create(type, target.namespace, body, options), created: true };
      throw notFound(type.group, type.plural, target.name);
    }
    const rv = object.metadata.resourceVersion;
    if ((rv === undefined || rv === '') && type.requireResourceVersionOnUpdate) {
      throw invalid(type.group, type.kind, target.name, [
        {
          type: 'Invalid',
          field: 'metadata.resourceVersion',
          value: 0,
          detail: 'must be specified for an update',
        },
      ]);
    }
    checkPrecondition(type, old, rv);
    const change: UpdateChange = { old, candidate: object };
    if (target.subresource) change.subresource = target.subresource;
    return { object: this.writeUpdate(type, change, options), created: false };
  }

  /** PATCH in any of the four patch types; apply creates a missing object. */
  patch(
    type: ResourceType,
    target: WriteTarget,
    patch: { type: PatchType; body: string },
    options: WriteOptions,
  ): { object: KubeObject; created: boolean } {
    checkPatchOptions(patch.type, options);
    if (patch.type === 'strategic' && type.custom) {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
      );
    }
    if (patch.type === 'apply') return this.apply(type, target, patch.body, options);
    const old = this.get(type, target.namespace, target.name);
    const current = this.present(type, old, options.version);
    const object = decodeBody(type, applyPatchBody(patch.type, current, parseJson(patch.body)));
    checkPrecondition(type, old, object.metadata.resourceVersion);
    const change: UpdateChange = { old, candidate: object };
    if (target.subresource) change.subresource = target.subresource;
    return { object: this.writeUpdate(type, change, { ...options, isPatch: true }), created: false };
  }

  private apply(
    type: ResourceType,
    target: WriteTarget,
    body: string,
    options: WriteOptions,
  ): { object: KubeObject; created: boolean } {
    const old = this.tryGet(type, target.namespace, target.name);
    const applied = decodeBody(type, parseYamlBody(body));
    checkBodyName(applied, target.name);
    const request = {
      manager: options.manager,
      force: options.force === true,
      apiVersion: apiVersionOf(type.group, options.version),
    };
    if (!old) {
      if (target.subresource) throw notFound(type.group, type.plural, target.name);
      const managedFields = managedFieldsForCreate(applied, request);
      const created = { ...applied, metadata: { ...applied.metadata, name: target.name, managedFields } };
      return { object: this.create(type, target.namespace, created, options), created: true };
    }
    checkPrecondition(type, old, applied.metadata.resourceVersion);
    const merged = serverSideApply(this.present(type, old, options.version), applied, request);
    const change: UpdateChange = { old, candidate: merged, applied: true };
    if (target.subresource) change.subresource = target.subresource;
    return { object: this.writeUpdate(type, change, { ...options, isPatch: true }), created: false };
  }

  private prepareUpdate(type: ResourceType, change: UpdateChange, options: WriteOptions): KubeObject {
    const { old, candidate } = change;
    const next =
      change.subresource === 'status' ? statusUpdate(old, candidate) : mainUpdate(type, old, candidate);
    if (change.applied) next.metadata.managedFields = candidate.metadata.managedFields;
    next.apiVersion = old.apiVersion;
    next.kind = old.kind;
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    const finalizerProblems = finalizerErrors(old, next);
    if (finalizerProblems.length > 0)
      throw invalid(type.group, type.kind, old.metadata.name ?? '', finalizerProblems);
    this.admit(type, next, old, options);
    if (change.subresource !== 'status') bumpGeneration(type, old, next);
    if (!change.applied)
      recordUpdateOwnership(old, next, options.manager, apiVersionOf(type.group, options.version));
    if (isCrd(type)) acceptCrd(next, old);
    return next;
  }

  private writeUpdate(type: ResourceType, change: UpdateChange, options: WriteOptions): KubeObject {
    const { old } = change;
    const next = this.prepareUpdate(type, change, options);
    if (unchanged(old, next)) return old;
    if (options.dryRun) return next;
    const finished =
      Boolean(next.metadata.deletionTimestamp) && (next.metadata.finalizers ?? []).length === 0;
    this.store.commit(finished ? 'DELETED' : 'MODIFIED', keyOf(type), next, old);
    if (isCrd(type)) {
      if (finished) this.unregisterCrd(old);
      else this.registerCrd(next);
    }
    return next;
  }

  /** DELETE: removes the object, or marks it for deletion while finalizers remain. */
  delete(
    type: ResourceType,
    target: WriteTarget,
    deleteOptions: Record<string, unknown>,
    options: WriteOptions,
  ): DeleteResult {
    const old = this.get(type, target.namespace, target.name);
    checkDeletePreconditions(type, old, deleteOptions);
    const gcFinalizer = propagationFinalizer(type, deleteOptions);
    if (old.metadata.deletionTimestamp) return { pending: old };
    const finalizers = [...(old.metadata.finalizers ?? [])];
    if (gcFinalizer && !finalizers.includes(gcFinalizer)) finalizers.push(gcFinalizer);
    if (finalizers.length > 0) return { pending: this.markDeleting(type, old, finalizers, options) };
    if (options.dryRun) return { deleted: old };
    if (type.group === '' && type.plural === 'namespaces') this.deleteNamespaceContents(target.name, options);
    if (isCrd(type)) this.deleteCustomResources(old, options);
    const gone = structuredClone(old);
    this.store.commit('DELETED', keyOf(type), gone, old);
    if (isCrd(type)) this.unregisterCrd(old);
    return { deleted: gone };
  }

  private markDeleting(
    type: ResourceType,
    old: KubeObject,
    finalizers: string[],
    options: WriteOptions,
  ): KubeObject {
    const next = structuredClone(old);
    next.metadata.finalizers = finalizers;
    next.metadata.deletionTimestamp = nowTimestamp();
    next.metadata.deletionGracePeriodSeconds = 0;
    const generation = old.metadata.generation ?? 0;
    if (type.hasGeneration && generation > 0) next.metadata.generation = generation + 1;
    if (!options.dryRun) this.store.commit('MODIFIED', keyOf(type), next, old);
    return next;
  }

  private deleteNamespaceContents(namespace: string, options: WriteOptions): void {
    for (const type of this.allTypes().filter((t) => t.namespaced)) {
      for (const object of this.list(type, namespace)) {
        const target = { namespace, name: object.metadata.name ?? '' };
        this.delete(type, target, { propagationPolicy: 'Background' }, options);
      }
    }
  }

  private deleteCustomResources(crd: KubeObject, options: WriteOptions): void {
    const type = this.types.get(crdKey(crd));
    if (!type) return;
    for (const object of this.store.list(keyOf(type))) {
      const gone = structuredClone(object);
      if (!options.dryRun) this.store.commit('DELETED', keyOf(type), gone, object);
    }
  }

  private registerCrd(crd: KubeObject): void {
    const type = resourceTypeFromCrd(crd);
    this.types.set(keyOf(type), type);
  }

  private unregisterCrd(crd: KubeObject): void {
    this.types.delete(crdKey(crd));
  }

  private checkNamespace(type: ResourceType, namespace: string | undefined, object: KubeObject): void {
    if (!type.namespaced) return;
    const bodyNs = object.metadata.namespace;
    if (bodyNs && namespace && bodyNs !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (!namespace) throw badRequest('the server could not find the requested resource');
    const ns = this.store.get('/namespaces', undefined, namespace);
    if (!ns) throw notFound('', 'namespaces', namespace);
  }

  private admit(
    type: ResourceType,
    object: KubeObject,
    old: KubeObject | undefined,
    options: WriteOptions,
  ): void {
    const name = object.metadata.name ?? '';
    const hooks = builtinHooks[keyOf(type)];
    hooks?.normalize?.(object);
    hooks?.decode?.(object);
    const errors: FieldError[] = old ? [] : nameErrors(type, name);
    if (type.custom) errors.push(...this.admitCustom(type, object, options));
    if (hooks?.validate) errors.push(...hooks.validate(object, old));
    if (isCrd(type)) errors.push(...validateCrd(object));
    if (errors.length > 0) throw invalid(type.group, type.kind, name, errors);
  }

  private admitCustom(type: ResourceType, object: KubeObject, options: WriteOptions): FieldError[] {
    const schema = type.schemas?.[options.version] ?? type.schemas?.[type.storageVersion];
    if (!schema) return [];
    const unknown: string[] = [];
    prune(object, schema, '', unknown);
    reportUnknownFields(type, options, unknown);
    applyDefaults(object, schema);
    const errors: FieldError[] = [];
    validate(object, schema, '', errors);
    return errors;
  }
}

function reportUnknownFields(type: ResourceType, options: WriteOptions, unknown: string[]): void {
  if (unknown.length === 0 || options.fieldValidation === 'Ignore') return;
  const texts = unknown.map((f) => `unknown field "${f}"`);
  if (options.fieldValidation === 'Strict') {
    const message = `${type.kind} in version "${options.version}" cannot be handled as a ${type.kind}: strict decoding error: ${texts.join(', ')}`;
    if (options.isPatch) throw new ApiError(422, 'Invalid', message);
    throw badRequest(message);
  }
  options.warnings?.push(...texts);
}

function checkPatchOptions(patchType: PatchType, options: WriteOptions): void {
  const errors: FieldError[] = [];
  if (options.force && patchType !== 'apply') {
    errors.push({
      type: 'Invalid',
      field: 'force',
      value: true,
      detail: 'may not be specified for non-apply patch',
    });
  }
  if (patchType === 'apply' && !options.manager) {
    errors.push({ type: 'Required', field: 'fieldManager', detail: 'is required for apply patch' });
  }
  if (errors.length > 0) throw invalid('meta.k8s.io', 'PatchOptions', '', errors);
}

function keyOf(type: ResourceType): string {
  return collectionKey({ group: type.group, resource: type.plural });
}

function isCrd(type: ResourceType): boolean {
  return type.group === 'apiextensions.k8s.io' && type.plural === 'customresourcedefinitions';
}

function crdKey(crd: KubeObject): string {
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const names = isRecord(spec.names) ? spec.names : {};
  return `${String(spec.group)}/${String(names.plural)}`;
}

function applyPatchBody(type: Exclude<PatchType, 'apply'>, current: KubeObject, patch: unknown): unknown {
  if (type === 'json') return applyJsonPatch(current, patch);
  if (type === 'merge') return mergePatch(current, patch);
  return strategicMerge(current, patch);
}

function parseYamlBody(body: string): unknown {
  try {
    return parseYaml(body) as unknown;
  } catch (err) {
    throw badRequest(`error decoding YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw badRequest(`error decoding JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Copies a request body into an object with metadata, or a 400. */
function decodeBody(type: ResourceType, body: unknown): KubeObject {
  if (!isRecord(body))
    throw badRequest(
      `${type.kind} in version "${type.storageVersion}" cannot be handled as a ${type.kind}: the body is not a JSON object`,
    );
  const object = structuredClone(body) as KubeObject;
  if (object.metadata === undefined || object.metadata === null) object.metadata = {};
  if (!isRecord(object.metadata))
    throw badRequest(
      `${type.kind} in version "${type.storageVersion}" cannot be handled as a ${type.kind}: metadata must be an object`,
    );
  object.apiVersion = apiVersionOf(type.group, type.storageVersion);
  object.kind = type.kind;
  return object;
}

function checkBodyName(object: KubeObject, name: string): void {
  if (object.metadata.name === undefined || object.metadata.name === '') {
    object.metadata.name = name;
    return;
  }
  if (object.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`,
    );
  }
}

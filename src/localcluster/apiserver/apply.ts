import { ApiError } from './errors.js';
import { isRecord, jsonEqual, nowTimestamp, type KubeObject, type ManagedFieldsEntry } from './types.js';

/** Field paths, each encoded as a JSON array of keys. Lists are owned whole. */
type FieldSet = Set<string>;

const serverOwnedMeta = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
]);

function collectLeaves(value: unknown, path: string[], out: FieldSet): void {
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) {
      if (path.length === 0 && (key === 'apiVersion' || key === 'kind')) continue;
      if (path.length === 1 && path[0] === 'metadata' && serverOwnedMeta.has(key)) continue;
      collectLeaves(item, [...path, key], out);
    }
    return;
  }
  if (path.length > 0) out.add(JSON.stringify(path));
}

/** The leaf fields an object sets. */
export function leafFields(object: unknown): FieldSet {
  const out: FieldSet = new Set();
  collectLeaves(object, [], out);
  return out;
}

function toFieldsV1(fields: FieldSet): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const encoded of fields) {
    let node = root;
    for (const key of JSON.parse(encoded) as string[]) {
      const k = `f:${key}`;
      if (!isRecord(node[k])) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
  }
  return root;
}

function fromFieldsV1(tree: unknown, path: string[] = [], out: FieldSet = new Set()): FieldSet {
  if (!isRecord(tree)) return out;
  const keys = Object.keys(tree).filter((k) => k.startsWith('f:'));
  if (keys.length === 0 && path.length > 0) out.add(JSON.stringify(path));
  for (const key of keys) fromFieldsV1(tree[key], [...path, key.slice(2)], out);
  return out;
}

function getAt(object: unknown, path: string[]): unknown {
  let current = object;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function setAt(object: Record<string, unknown>, path: string[], value: unknown): void {
  let current = object;
  for (const key of path.slice(0, -1)) {
    if (!isRecord(current[key])) current[key] = {};
    current = current[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) current[last] = structuredClone(value);
}

function removeAt(object: Record<string, unknown>, path: string[]): void {
  const parent = getAt(object, path.slice(0, -1));
  const last = path[path.length - 1];
  if (isRecord(parent) && last !== undefined) delete parent[last];
}

function dotted(encoded: string): string {
  return `.${(JSON.parse(encoded) as string[]).join('.')}`;
}

interface Owner {
  entry: ManagedFieldsEntry;
  fields: FieldSet;
}

function findConflicts(
  owners: Owner[],
  applied: KubeObject,
  current: KubeObject,
  fields: FieldSet,
): ApiError | undefined {
  const conflicts: { manager: string; field: string }[] = [];
  for (const owner of owners) {
    for (const field of fields) {
      const path = JSON.parse(field) as string[];
      if (owner.fields.has(field) && !jsonEqual(getAt(current, path), getAt(applied, path))) {
        conflicts.push({ manager: owner.entry.manager, field: dotted(field) });
      }
    }
  }
  if (conflicts.length === 0) return undefined;
  const noun = conflicts.length === 1 ? 'conflict' : 'conflicts';
  const texts = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
  return new ApiError(409, 'Conflict', `Apply failed with ${conflicts.length} ${noun}: ${texts.join(', ')}`, {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}"`,
      field: c.field,
    })),
  });
}

export interface ApplyRequest {
  manager: string;
  force: boolean;
  apiVersion: string;
}

function entryFor(
  manager: string,
  operation: 'Apply' | 'Update',
  apiVersion: string,
  fields: FieldSet,
): ManagedFieldsEntry {
  return {
    manager,
    operation,
    apiVersion,
    time: nowTimestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(fields),
  };
}

/**
 * Server-side apply over an existing object: the manager's fields become exactly those it applies,
 * fields it applied before and now omits are removed, and fields other managers own conflict (409)
 * unless forced.
 */
export function serverSideApply(current: KubeObject, applied: KubeObject, request: ApplyRequest): KubeObject {
  const entries = current.metadata.managedFields ?? [];
  const isMine = (e: ManagedFieldsEntry): boolean => e.manager === request.manager && e.operation === 'Apply';
  const previous = fromFieldsV1(entries.find(isMine)?.fieldsV1);
  const others: Owner[] = entries
    .filter((e) => !isMine(e))
    .map((entry) => ({ entry, fields: fromFieldsV1(entry.fieldsV1) }));
  const next = leafFields(applied);
  const conflict = findConflicts(
    others.filter((o) => o.entry.manager !== request.manager),
    applied,
    current,
    next,
  );
  if (conflict && !request.force) throw conflict;
  const result = structuredClone(current);
  for (const field of previous) {
    if (!next.has(field) && !others.some((o) => o.fields.has(field)))
      removeAt(result, JSON.parse(field) as string[]);
  }
  for (const field of next) {
    const path = JSON.parse(field) as string[];
    setAt(result, path, getAt(applied, path));
    for (const other of others) other.fields.delete(field);
  }
  const kept = others
    .filter((o) => o.fields.size > 0)
    .map((o) => ({ ...o.entry, fieldsV1: toFieldsV1(o.fields) }));
  result.metadata.managedFields = [entryFor(request.manager, 'Apply', request.apiVersion, next), ...kept];
  return result;
}

/** managedFields for an object created by apply. */
export function managedFieldsForCreate(applied: KubeObject, request: ApplyRequest): ManagedFieldsEntry[] {
  return [entryFor(request.manager, 'Apply', request.apiVersion, leafFields(applied))];
}

function changedFields(before: KubeObject, after: KubeObject): FieldSet {
  const changed: FieldSet = new Set();
  for (const field of new Set([...leafFields(before), ...leafFields(after)])) {
    const path = JSON.parse(field) as string[];
    if (!jsonEqual(getAt(before, path), getAt(after, path))) changed.add(field);
  }
  return changed;
}

/** After a non-apply write to an object under server-side apply, the writer takes over what it changed. */
export function recordUpdateOwnership(
  before: KubeObject,
  after: KubeObject,
  manager: string,
  apiVersion: string,
): void {
  const entries = before.metadata.managedFields;
  if (!entries || entries.length === 0) return;
  const changed = changedFields(before, after);
  if (changed.size === 0) {
    after.metadata.managedFields = entries;
    return;
  }
  const owners = entries.map((entry) => ({ entry, fields: fromFieldsV1(entry.fieldsV1) }));
  let mine = owners.find((o) => o.entry.manager === manager && o.entry.operation === 'Update');
  if (!mine) {
    mine = { entry: entryFor(manager, 'Update', apiVersion, new Set()), fields: new Set() };
    owners.push(mine);
  }
  for (const field of changed) {
    for (const owner of owners) owner.fields.delete(field);
    mine.fields.add(field);
  }
  mine.entry = { ...mine.entry, time: nowTimestamp() };
  after.metadata.managedFields = owners
    .filter((o) => o.fields.size > 0)
    .map((o) => ({ ...o.entry, fieldsV1: toFieldsV1(o.fields) }));
}

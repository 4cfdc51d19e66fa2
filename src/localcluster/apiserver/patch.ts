import jsonPatch from 'fast-json-patch';
import { ApiError, badRequest } from './errors.js';
import { isRecord, jsonEqual } from './types.js';

/** RFC 7386 JSON merge patch: `null` deletes a key, arrays are replaced whole. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function unprocessable(message: string): ApiError {
  return new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'UnexpectedServerResponse', message, field: '' }],
  });
}

/** RFC 6902 JSON patch, `test` included; a failed operation is a 422 as on a real server. */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  }
  const error = jsonPatch.validate(patch as jsonPatch.Operation[], target);
  if (error && error.name !== 'TEST_OPERATION_FAILED') {
    if (error.name === 'OPERATION_OP_INVALID' || error.name === 'OPERATION_NOT_AN_OBJECT')
      throw badRequest(error.message);
    throw unprocessable(error.message.split('\n')[0] ?? error.message);
  }
  try {
    return jsonPatch.applyPatch(structuredClone(target), patch as jsonPatch.Operation[], false, true)
      .newDocument;
  } catch (err) {
    const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    if (err instanceof Error && err.name === 'TEST_OPERATION_FAILED')
      throw unprocessable(`testing value failed: ${message}`);
    throw unprocessable(message);
  }
}

/** Merge keys of the built-in list fields strategic merge patch knows (by field name). */
const mergeKeys: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  containerStatuses: 'name',
};

/** Primitive lists merged as sets. */
const setLists = new Set(['finalizers']);

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!k.startsWith('$')) out[k] = stripDirectives(v);
  }
  return out;
}

function mergeKeyedList(original: unknown[], patch: unknown[], mergeKey: string): unknown[] {
  if (patch.some((item) => isRecord(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isRecord(item) && item.$patch === 'replace')).map(stripDirectives);
  }
  const result = [...original];
  for (const item of patch) {
    if (!isRecord(item)) continue;
    const index = result.findIndex(
      (existing) => isRecord(existing) && jsonEqual(existing[mergeKey], item[mergeKey]),
    );
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index], item);
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

function mergeList(field: string, original: unknown, patch: unknown[]): unknown[] {
  const existing: unknown[] = Array.isArray(original) ? (original as unknown[]) : [];
  if (setLists.has(field)) {
    const result = [...existing];
    for (const item of patch) if (!result.some((e) => jsonEqual(e, item))) result.push(item);
    return result;
  }
  const key = mergeKeys[field];
  if (key && patch.every(isRecord)) return mergeKeyedList(existing, patch, key);
  return patch.map(stripDirectives);
}

function applyDirectiveKey(result: Record<string, unknown>, key: string, value: unknown): boolean {
  if (key.startsWith('$deleteFromPrimitiveList/')) {
    const field = key.slice('$deleteFromPrimitiveList/'.length);
    const current = result[field];
    if (Array.isArray(current) && Array.isArray(value)) {
      result[field] = current.filter((item) => !value.some((v) => jsonEqual(v, item)));
    }
    return true;
  }
  // $setElementOrder, $retainKeys and $patch only steer ordering and replacement; order is kept as merged.
  return key.startsWith('$');
}

/** Strategic merge patch for built-in kinds: lists with merge keys merge by key, `finalizers` as a set. */
export function strategicMerge(original: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return stripDirectives(patch);
  if (patch.$patch === 'replace') return stripDirectives(patch);
  const result: Record<string, unknown> = isRecord(original) ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (applyDirectiveKey(result, key, value)) continue;
    if (value === null || (isRecord(value) && value.$patch === 'delete')) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(key, result[key], value);
    else if (isRecord(value)) result[key] = strategicMerge(result[key], value);
    else result[key] = value;
  }
  return result;
}

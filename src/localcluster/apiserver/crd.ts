import type { FieldError } from './errors.js';
import { compareKubeVersions, type PrinterColumn, type ResourceType, type ScaleSpec } from './resources.js';
import type { JSONSchemaProps } from './schema.js';
import { isRecord, nowTimestamp, type KubeObject } from './types.js';

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: object; scale?: ScaleSpec };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdNames {
  plural: string;
  singular?: string;
  kind: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

interface CrdSpec {
  group: string;
  names: CrdNames;
  scope: string;
  versions: CrdVersion[];
}

function specOf(crd: KubeObject): CrdSpec {
  return crd.spec as CrdSpec;
}

function validateNames(spec: Partial<CrdSpec>, errors: FieldError[]): void {
  const names = isRecord(spec.names) ? (spec.names as Partial<CrdNames>) : {};
  if (typeof names.plural !== 'string' || names.plural === '')
    errors.push({ type: 'Required', field: 'spec.names.plural' });
  if (typeof names.kind !== 'string' || names.kind === '')
    errors.push({ type: 'Required', field: 'spec.names.kind' });
  if (typeof names.plural === 'string' && names.plural !== names.plural.toLowerCase()) {
    errors.push({
      type: 'Invalid',
      field: 'spec.names.plural',
      value: names.plural,
      detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
    });
  }
}

function validateVersions(versions: unknown, errors: FieldError[]): void {
  if (!Array.isArray(versions) || versions.length === 0) {
    errors.push({
      type: 'Required',
      field: 'spec.versions',
      detail: 'must have exactly one version marked as storage version',
    });
    return;
  }
  const list = versions as Partial<CrdVersion>[];
  const storage = list.filter((v) => v.storage === true).length;
  if (storage !== 1) {
    errors.push({
      type: 'Invalid',
      field: 'spec.versions',
      value: list,
      detail: 'must have exactly one version marked as storage version',
    });
  }
  if (!list.some((v) => v.served === true)) {
    errors.push({
      type: 'Invalid',
      field: 'spec.versions',
      value: list,
      detail: 'must serve at least one version',
    });
  }
  list.forEach((v, i) => {
    if (typeof v.name !== 'string' || v.name === '')
      errors.push({ type: 'Required', field: `spec.versions[${i}].name` });
  });
}

/** The checks a real server makes on a CustomResourceDefinition, for a 422 with causes. */
export function validateCrd(crd: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = (isRecord(crd.spec) ? crd.spec : {}) as Partial<CrdSpec>;
  if (typeof spec.group !== 'string' || spec.group === '')
    errors.push({ type: 'Required', field: 'spec.group' });
  validateNames(spec, errors);
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') {
    errors.push({
      type: 'NotSupported',
      field: 'spec.scope',
      value: spec.scope ?? '',
      detail: 'supported values: "Cluster", "Namespaced"',
    });
  }
  validateVersions(spec.versions, errors);
  const expected = `${spec.names?.plural ?? ''}.${spec.group ?? ''}`;
  if (errors.length === 0 && crd.metadata.name !== expected) {
    errors.push({
      type: 'Invalid',
      field: 'metadata.name',
      value: crd.metadata.name,
      detail: `must be spec.names.plural+"."+spec.group`,
    });
  }
  return errors;
}

function acceptedNames(names: CrdNames): CrdNames {
  const accepted: CrdNames = {
    plural: names.plural,
    singular: names.singular ?? names.kind.toLowerCase(),
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
  };
  if (names.shortNames?.length) accepted.shortNames = names.shortNames;
  if (names.categories?.length) accepted.categories = names.categories;
  return accepted;
}

function condition(type: string, reason: string, message: string): Record<string, string> {
  return { type, status: 'True', lastTransitionTime: nowTimestamp(), reason, message };
}

/** What the apiextensions controllers write once the names are accepted: from then on the group is served. */
export function acceptCrd(crd: KubeObject, previous?: KubeObject): void {
  const spec = specOf(crd);
  const storage = spec.versions.find((v) => v.storage)?.name ?? '';
  const oldStatus = isRecord(previous?.status) ? previous.status : {};
  const stored = Array.isArray(oldStatus.storedVersions) ? (oldStatus.storedVersions as string[]) : [];
  const keepConditions = Array.isArray(oldStatus.conditions)
    ? (oldStatus.conditions as unknown[])
    : undefined;
  crd.status = {
    conditions: keepConditions ?? [
      condition('NamesAccepted', 'NoConflicts', 'no conflicts found'),
      condition('Established', 'InitialNamesAccepted', 'the initial names have been accepted'),
    ],
    acceptedNames: acceptedNames(spec.names),
    storedVersions: stored.includes(storage) ? stored : [...stored, storage],
  };
}

function perVersion(versions: CrdVersion[]): {
  schemas: Record<string, JSONSchemaProps | undefined>;
  printerColumns: Record<string, PrinterColumn[]>;
} {
  const schemas: Record<string, JSONSchemaProps | undefined> = {};
  const printerColumns: Record<string, PrinterColumn[]> = {};
  for (const v of versions) {
    schemas[v.name] = v.schema?.openAPIV3Schema;
    printerColumns[v.name] = v.additionalPrinterColumns ?? [];
  }
  return { schemas, printerColumns };
}

/** Turns an established CRD into the description the server serves it by. */
export function resourceTypeFromCrd(crd: KubeObject): ResourceType {
  const spec = specOf(crd);
  const served = spec.versions.filter((v) => v.served);
  const versions = served.map((v) => v.name).sort(compareKubeVersions);
  const storage = spec.versions.find((v) => v.storage) ?? served[0];
  const names = acceptedNames(spec.names);
  const { schemas, printerColumns } = perVersion(spec.versions);
  const type: ResourceType = {
    group: spec.group,
    versions,
    storageVersion: storage?.name ?? versions[0] ?? 'v1',
    plural: names.plural,
    singular: names.singular ?? '',
    kind: names.kind,
    listKind: names.listKind ?? `${names.kind}List`,
    namespaced: spec.scope === 'Namespaced',
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    status: storage?.subresources?.status !== undefined,
    custom: true,
    hasGeneration: true,
    requireResourceVersionOnUpdate: true,
    createOnUpdate: false,
    generationOnAnnotations: false,
    schemas,
    printerColumns,
    defaultPropagation: 'Background',
  };
  if (storage?.subresources?.scale) type.scale = storage.subresources.scale;
  return type;
}

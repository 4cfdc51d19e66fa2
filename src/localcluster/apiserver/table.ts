import { evaluateJsonPath } from './jsonpath.js';
import type { PrinterColumn, ResourceType } from './resources.js';
import { isRecord, text, type KubeObject } from './types.js';

/** Go's duration.HumanDuration, as `kubectl get` shows ages. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8)
    return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8)
    return days % 365 === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

function age(object: KubeObject): string {
  const created = Date.parse(object.metadata.creationTimestamp ?? '');
  return Number.isNaN(created) ? '<unknown>' : humanDuration(Date.now() - created);
}

function rec(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

type Cell = string | number | boolean | null;

interface BuiltinColumns {
  columns: PrinterColumn[];
  cells(object: KubeObject): Cell[];
}

const col = (name: string, type = 'string'): PrinterColumn => ({ name, type, jsonPath: '' });

function jobStatus(object: KubeObject): string {
  const conditions = Array.isArray(rec(object.status).conditions)
    ? (rec(object.status).conditions as unknown[])
    : [];
  const isTrue = (t: string): boolean =>
    conditions.some((c) => isRecord(c) && c.type === t && c.status === 'True');
  if (isTrue('Complete')) return 'Complete';
  if (isTrue('Failed')) return 'Failed';
  return num(rec(object.status).active) > 0 ? 'Running' : 'Pending';
}

const builtinTables: Record<string, BuiltinColumns> = {
  'apps/deployments': {
    columns: [col('Ready'), col('Up-to-date', 'integer'), col('Available', 'integer')],
    cells: (o) => {
      const s = rec(o.status);
      return [
        `${num(s.readyReplicas)}/${num(rec(o.spec).replicas)}`,
        num(s.updatedReplicas),
        num(s.availableReplicas),
      ];
    },
  },
  'apps/statefulsets': {
    columns: [col('Ready')],
    cells: (o) => [`${num(rec(o.status).readyReplicas)}/${num(rec(o.spec).replicas)}`],
  },
  'batch/jobs': {
    columns: [col('Status'), col('Completions')],
    cells: (o) => [jobStatus(o), `${num(rec(o.status).succeeded)}/${num(rec(o.spec).completions)}`],
  },
  '/pods': {
    columns: [col('Ready'), col('Status'), col('Restarts', 'integer')],
    cells: (o) => {
      const statuses = Array.isArray(rec(o.status).containerStatuses)
        ? (rec(o.status).containerStatuses as unknown[])
        : [];
      const total = Array.isArray(rec(o.spec).containers) ? (rec(o.spec).containers as unknown[]).length : 0;
      const ready = statuses.filter((s) => isRecord(s) && s.ready === true).length;
      const phase = rec(o.status).phase;
      const status = o.metadata.deletionTimestamp
        ? 'Terminating'
        : typeof phase === 'string'
          ? phase
          : 'Pending';
      const restarts = statuses.reduce<number>((sum, s) => sum + num(rec(s).restartCount), 0);
      return [`${ready}/${total}`, status, restarts];
    },
  },
  '/namespaces': { columns: [col('Status')], cells: (o) => [text(rec(o.status).phase, '')] },
  '/configmaps': {
    columns: [col('Data', 'integer')],
    cells: (o) => [Object.keys(rec(o.data)).length + Object.keys(rec(o.binaryData)).length],
  },
  '/secrets': {
    columns: [col('Type'), col('Data', 'integer')],
    cells: (o) => [text(o.type, 'Opaque'), Object.keys(rec(o.data)).length],
  },
  '/persistentvolumeclaims': {
    columns: [col('Status'), col('Volume')],
    cells: (o) => [text(rec(o.status).phase, 'Pending'), text(rec(o.spec).volumeName, '')],
  },
  'coordination.k8s.io/leases': {
    columns: [col('Holder')],
    cells: (o) => [text(rec(o.spec).holderIdentity, '')],
  },
};

function customCell(object: KubeObject, column: PrinterColumn): Cell {
  let values: unknown[];
  try {
    values = evaluateJsonPath(object, column.jsonPath);
  } catch {
    return null;
  }
  const value = values[0];
  if (value === undefined || value === null) return null;
  if (column.type === 'date' && typeof value === 'string') {
    const time = Date.parse(value);
    return Number.isNaN(time) ? value : humanDuration(Date.now() - time);
  }
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

interface TableLayout {
  columns: PrinterColumn[];
  cells(object: KubeObject): Cell[];
}

function layoutFor(type: ResourceType, version: string): TableLayout {
  const name: PrinterColumn = {
    name: 'Name',
    type: 'string',
    format: 'name',
    jsonPath: '.metadata.name',
    description: 'Name must be unique within a namespace.',
  };
  const ageColumn: PrinterColumn = {
    name: 'Age',
    type: 'date',
    jsonPath: '.metadata.creationTimestamp',
    description:
      'CreationTimestamp is a timestamp representing the server time when this object was created.',
  };
  const custom = type.printerColumns?.[version] ?? [];
  if (type.custom && custom.length > 0) {
    return {
      columns: [name, ...custom],
      cells: (o) => [o.metadata.name ?? '', ...custom.map((c) => customCell(o, c))],
    };
  }
  const builtin = builtinTables[`${type.group}/${type.plural}`];
  if (builtin) {
    return {
      columns: [name, ...builtin.columns, ageColumn],
      cells: (o) => [o.metadata.name ?? '', ...builtin.cells(o), age(o)],
    };
  }
  return { columns: [name, ageColumn], cells: (o) => [o.metadata.name ?? '', age(o)] };
}

function rowObject(object: KubeObject, includeObject: string): unknown {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

/** A meta.k8s.io/v1 Table, as a server answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */
export function toTable(
  type: ResourceType,
  version: string,
  objects: KubeObject[],
  options: { resourceVersion?: string; includeObject: string; continueToken?: string },
): Record<string, unknown> {
  const layout = layoutFor(type, version);
  const metadata: Record<string, unknown> = {};
  if (options.resourceVersion) metadata.resourceVersion = options.resourceVersion;
  if (options.continueToken) metadata.continue = options.continueToken;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: layout.columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description ?? '',
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({ cells: layout.cells(o), object: rowObject(o, options.includeObject) })),
  };
}

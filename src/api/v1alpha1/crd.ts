import { stringify } from 'yaml';
import { z } from 'zod';
import { CATEGORY, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION } from './group.js';
import { specSchema } from './spec.js';
import { statusSchema } from './status.js';

/** An OpenAPI v3 schema node, loosely typed: we only rewrite keys. */
export type SchemaNode = Record<string, unknown>;

/** JSON Schema keys Kubernetes rejects or that say nothing a structural schema needs. */
const DROPPED_KEYS = new Set(['$schema', 'propertyNames', 'id', '$id']);
/** Branching keys that would carry types or defaults: not structural, so refused outright. */
const FORBIDDEN_KEYS = ['anyOf', 'oneOf', 'allOf', 'not', '$ref', '$defs', 'definitions'];

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** zod bounds every integer to the safe range; Kubernetes needs no such bound. */
function isSafeIntegerBound(key: string, value: unknown): boolean {
  return (
    (key === 'minimum' && value === Number.MIN_SAFE_INTEGER) ||
    (key === 'maximum' && value === Number.MAX_SAFE_INTEGER)
  );
}

function keepKey(node: SchemaNode, key: string, value: unknown): boolean {
  if (DROPPED_KEYS.has(key) || isSafeIntegerBound(key, value)) return false;
  // Kubernetes forbids additionalProperties beside properties, and false anywhere.
  if (key === 'additionalProperties') return value !== false && node.properties === undefined;
  // format: date-time is checked by the server; zod's equivalent regex is noise.
  if (key === 'pattern' && node.format === 'date-time') return false;
  return true;
}

function convertValue(key: string, value: unknown, path: string): unknown {
  if (key === 'properties' && isNode(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([name, sub]) => [name, toStructural(sub, `${path}.${name}`)]),
    );
  }
  if ((key === 'items' || key === 'additionalProperties') && isNode(value)) {
    return toStructural(value, `${path}[]`);
  }
  return value;
}

/** Turns zod's OpenAPI 3.0 output into a Kubernetes structural schema, or throws naming the path. */
export function toStructural(input: unknown, path = ''): SchemaNode {
  if (!isNode(input)) throw new Error(`${path || '<root>'}: not a schema object`);
  // A resource quantity (1, "500m", "2Gi"): Kubernetes' own marker replaces zod's anyOf of the two types.
  if (input['x-kubernetes-int-or-string'] === true) return { 'x-kubernetes-int-or-string': true };
  const forbidden = FORBIDDEN_KEYS.find((key) => key in input);
  if (forbidden !== undefined) throw new Error(`${path || '<root>'}: ${forbidden} is not structural`);
  const out: SchemaNode = {};
  for (const [key, value] of Object.entries(input)) {
    if (keepKey(input, key, value)) out[key] = convertValue(key, value, path);
  }
  if (out.type === undefined) {
    if (out.properties === undefined && out.additionalProperties === undefined) {
      throw new Error(`${path || '<root>'}: no type`);
    }
    out.type = 'object';
  }
  return ordered(out);
}

const LEADING_KEYS = ['type', 'format', 'description', 'default', 'enum'];

/** The same keys in a fixed order, so the committed YAML reads well and diffs stay small. */
function ordered(node: SchemaNode): SchemaNode {
  const leading = LEADING_KEYS.filter((key) => key in node);
  const rest = Object.keys(node).filter((key) => !LEADING_KEYS.includes(key));
  return Object.fromEntries([...leading, ...rest].map((key) => [key, node[key]]));
}

function openApi(schema: z.ZodType): SchemaNode {
  return toStructural(z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0' }));
}

export function openApiV3Schema(): SchemaNode {
  return {
    type: 'object',
    description: 'SchemaMigration takes a PostgreSQL database to a declared schema revision and back.',
    // metadata is left out: the API server validates ObjectMeta itself and never prunes it.
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      spec: openApi(specSchema),
      status: openApi(statusSchema),
    },
    required: ['spec'],
  };
}

const PRINTER_COLUMNS = [
  { name: 'Target', type: 'string', jsonPath: '.spec.targetRevision' },
  { name: 'Current', type: 'string', jsonPath: '.status.currentRevision' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

/** The SchemaMigration CustomResourceDefinition, generated from the zod schemas. */
export function buildCrd(): SchemaNode {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: LIST_KIND,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [SHORT_NAME],
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS,
          schema: { openAPIV3Schema: openApiV3Schema() },
        },
      ],
    },
  };
}

/** Where the generated CRD is committed, relative to the repository root. */
export const CRD_PATH = `crds/${GROUP}_${PLURAL}.yaml`;

const HEADER =
  '# Generated from src/api/v1alpha1 (zod); do not edit. Regenerate with:\n' +
  '#   node --import ./scripts/register-ts.js src/api/v1alpha1/generate-crd.ts\n';

/** The CRD exactly as committed in crds/. */
export function renderCrd(): string {
  return HEADER + stringify(buildCrd(), { lineWidth: 0, singleQuote: true });
}

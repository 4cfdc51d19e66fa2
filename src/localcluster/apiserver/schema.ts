import type { FieldError } from './errors.js';
import { isRecord } from './types.js';

/** The part of an OpenAPI v3 structural schema that a CRD version carries. */
export interface JSONSchemaProps {
  type?: string;
  description?: string;
  format?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [extension: string]: unknown;
}

function child(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function preservesUnknown(schema: JSONSchemaProps): boolean {
  return schema['x-kubernetes-preserve-unknown-fields'] === true;
}

function propertySchema(schema: JSONSchemaProps, key: string): JSONSchemaProps | undefined {
  const known = schema.properties?.[key];
  if (known) return known;
  if (isRecord(schema.additionalProperties)) return schema.additionalProperties;
  return undefined;
}

function allowsUnknownKey(schema: JSONSchemaProps): boolean {
  return (
    preservesUnknown(schema) || schema.additionalProperties === true || isRecord(schema.additionalProperties)
  );
}

/**
 * Drops fields the schema does not know (unless it preserves unknown fields) and nulls that are not
 * nullable, recording the paths of unknown fields for fieldValidation warnings.
 */
export function prune(value: unknown, schema: JSONSchemaProps, path: string, unknown: string[]): void {
  if (Array.isArray(value)) {
    if (schema.items)
      value.forEach((item, i) => prune(item, schema.items as JSONSchemaProps, `${path}[${i}]`, unknown));
    return;
  }
  if (!isRecord(value)) return;
  for (const key of Object.keys(value)) {
    // apiVersion, kind and metadata are the server's, whatever the CRD's schema says of them.
    if (path === '' && isRootKey(key)) continue;
    const sub = propertySchema(schema, key);
    if (!sub) {
      if (!allowsUnknownKey(schema)) {
        unknown.push(child(path, key));
        delete value[key];
      }
      continue;
    }
    if (value[key] === null && sub.nullable !== true) {
      delete value[key];
      continue;
    }
    prune(value[key], sub, child(path, key), unknown);
  }
}

function isRootKey(key: string): boolean {
  return key === 'apiVersion' || key === 'kind' || key === 'metadata';
}

/** Fills in `default`s for absent properties, recursing into what is present. */
export function applyDefaults(value: unknown, schema: JSONSchemaProps): void {
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item) => applyDefaults(item, schema.items as JSONSchemaProps));
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (value[key] === undefined && sub.default !== undefined) value[key] = structuredClone(sub.default);
  }
  for (const key of Object.keys(value)) {
    const sub = propertySchema(schema, key);
    if (sub) applyDefaults(value[key], sub);
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: unknown, schema: JSONSchemaProps): boolean {
  const actual = jsonType(value);
  if (schema['x-kubernetes-int-or-string'] === true) return actual === 'integer' || actual === 'string';
  if (schema.type === undefined) return true;
  if (actual === 'null') return schema.nullable === true;
  if (schema.type === 'number') return actual === 'number' || actual === 'integer';
  return schema.type === actual;
}

function checkNumber(value: number, schema: JSONSchemaProps, path: string, errors: FieldError[]): void {
  if (schema.minimum !== undefined) {
    const bad = schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum;
    if (bad) {
      const word = schema.exclusiveMinimum ? 'greater than' : 'greater than or equal to';
      errors.push({
        type: 'Invalid',
        field: path,
        value,
        detail: `${path} in body should be ${word} ${schema.minimum}`,
      });
    }
  }
  if (schema.maximum !== undefined) {
    const bad = schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum;
    if (bad) {
      const word = schema.exclusiveMaximum ? 'less than' : 'less than or equal to';
      errors.push({
        type: 'Invalid',
        field: path,
        value,
        detail: `${path} in body should be ${word} ${schema.maximum}`,
      });
    }
  }
}

function checkString(value: string, schema: JSONSchemaProps, path: string, errors: FieldError[]): void {
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    errors.push({
      type: 'Invalid',
      field: path,
      value,
      detail: `${path} in body should be at least ${schema.minLength} chars long`,
    });
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    errors.push({ type: 'TooLong', field: path, detail: `may not be more than ${schema.maxLength} bytes` });
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
    errors.push({
      type: 'Invalid',
      field: path,
      value,
      detail: `${path} in body should match '${schema.pattern}'`,
    });
  }
}

function checkArray(value: unknown[], schema: JSONSchemaProps, path: string, errors: FieldError[]): void {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push({
      type: 'Invalid',
      field: path,
      value: value.length,
      detail: `${path} in body should have at least ${schema.minItems} items`,
    });
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errors.push({ type: 'TooLong', field: path, detail: `must have at most ${schema.maxItems} items` });
  }
  if (schema.items)
    value.forEach((item, i) => validate(item, schema.items as JSONSchemaProps, `${path}[${i}]`, errors));
}

function checkObject(
  value: Record<string, unknown>,
  schema: JSONSchemaProps,
  path: string,
  errors: FieldError[],
): void {
  for (const name of schema.required ?? []) {
    if (value[name] === undefined) errors.push({ type: 'Required', field: child(path, name) });
  }
  for (const [key, item] of Object.entries(value)) {
    if (path === '' && isRootKey(key)) continue;
    const sub = propertySchema(schema, key);
    if (sub) validate(item, sub, child(path, key), errors);
  }
}

/** Validates a value against a structural schema, in the wording of a real server's 422 causes. */
export function validate(value: unknown, schema: JSONSchemaProps, path: string, errors: FieldError[]): void {
  if (!typeMatches(value, schema)) {
    const actual = jsonType(value);
    const expected =
      schema['x-kubernetes-int-or-string'] === true ? 'integer,string' : (schema.type ?? 'object');
    errors.push({
      type: 'TypeInvalid',
      field: path,
      value: actual,
      detail: `${path} in body must be of type ${expected}: "${actual}"`,
    });
    return;
  }
  if (schema.enum && !schema.enum.some((allowed) => JSON.stringify(allowed) === JSON.stringify(value))) {
    const supported = schema.enum.map((v) => JSON.stringify(v)).join(', ');
    errors.push({ type: 'NotSupported', field: path, value, detail: `supported values: ${supported}` });
  }
  if (typeof value === 'number') checkNumber(value, schema, path, errors);
  else if (typeof value === 'string') checkString(value, schema, path, errors);
  else if (Array.isArray(value)) checkArray(value, schema, path, errors);
  else if (isRecord(value)) checkObject(value, schema, path, errors);
}

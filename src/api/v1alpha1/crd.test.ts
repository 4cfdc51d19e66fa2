import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { buildCrd, CRD_PATH, renderCrd, toStructural, type SchemaNode } from './crd.js';
import { validateSpec } from './validate.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const REGENERATE = 'node --import ./scripts/register-ts.js src/api/v1alpha1/generate-crd.ts';

const validSpec = {
  targetRevision: '1732200000000_add-orders-index',
  database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
  migrations: { configMaps: [{ name: 'orders-migrations' }] },
  workload: { kind: 'Deployment', name: 'orders-api' },
  backup: { pvc: 'orders-backups' },
};

function errorsOf(spec: unknown): readonly string[] {
  const result = validateSpec(spec);
  return result.ok ? [] : result.errors;
}

function walk(node: unknown, visit: (node: SchemaNode, path: string) => void, path = ''): void {
  if (typeof node !== 'object' || node === null) return;
  if (Array.isArray(node)) return node.forEach((item, i) => walk(item, visit, `${path}[${i}]`));
  visit(node as SchemaNode, path);
  for (const [key, value] of Object.entries(node)) walk(value, visit, `${path}.${key}`);
}

describe('the SchemaMigration CRD', () => {
  it('is committed exactly as generated from the zod schema', () => {
    const committed = read(CRD_PATH);
    if (committed !== renderCrd()) {
      throw new Error(`${CRD_PATH} differs from the zod schema: regenerate it with \`${REGENERATE}\``);
    }
    expect(parse(committed)).toEqual(buildCrd());
  });

  it('has the names, scope, status subresource and printer columns kubectl shows', () => {
    const crd = buildCrd() as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(crd.metadata.name).toBe('schemamigrations.schemaops.dev');
    expect(crd.spec).toMatchObject({
      group: 'schemaops.dev',
      scope: 'Namespaced',
      names: {
        kind: 'SchemaMigration',
        plural: 'schemamigrations',
        shortNames: ['smig'],
        categories: ['schemaops'],
      },
      versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }],
    });
    const versions = crd.spec.versions as {
      additionalPrinterColumns: { name: string; jsonPath: string }[];
    }[];
    const columns = versions[0]!.additionalPrinterColumns;
    expect(columns.map((c) => c.name)).toEqual(['Target', 'Current', 'Phase', 'Ready', 'Reason', 'Age']);
    expect(columns[3]!.jsonPath).toBe('.status.conditions[?(@.type=="Ready")].status');
    expect(columns[4]!.jsonPath).toBe('.status.conditions[?(@.type=="Ready")].reason');
  });

  it('is structural: every node typed, no $schema, no additionalProperties beside properties or false', () => {
    walk(buildCrd(), (node, path) => {
      if (!path.includes('openAPIV3Schema') || path.endsWith('.properties')) return;
      if (path.endsWith('.x-kubernetes-validations')) return;
      if ('properties' in node || 'items' in node || 'additionalProperties' in node) {
        expect({ path, type: node.type }).toEqual({ path, type: expect.any(String) });
      }
      expect(node).not.toHaveProperty('$schema');
      expect(node.additionalProperties).not.toBe(false);
      expect('properties' in node && 'additionalProperties' in node).toBe(false);
      expect(node).not.toHaveProperty('x-kubernetes-preserve-unknown-fields');
    });
  });

  it('keeps defaults and enums, and requires only what has no default', () => {
    const crd = parse(read(CRD_PATH)) as SchemaNode;
    const text = JSON.stringify(crd);
    expect(text).toContain('"default":"pgmigrations"');
    expect(text).toContain('"default":"postgres:16"');
    expect(text).toContain('"enum":["Deployment","StatefulSet"]');
    expect(text).toContain('"enum":["Automatic","Manual","Destructive"]');
    const spec = (crd as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } }).spec
      .versions[0]!.schema.openAPIV3Schema.properties as Record<string, SchemaNode>;
    expect(spec.spec!.required).toEqual(['targetRevision', 'database', 'migrations']);
    expect((spec.spec!.properties as Record<string, SchemaNode>).timeouts!.default).toEqual({});
  });

  it('refuses a schema that is not structural, naming where', () => {
    const schema = { type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } };
    expect(() => toStructural(schema)).toThrow('.a: anyOf is not structural');
  });
});

describe('validateSpec', () => {
  it('accepts the sample resource and fills in every default', () => {
    const sample = parse(read('config/samples/schemaops_v1alpha1_schemamigration.yaml')) as { spec: unknown };
    expect(errorsOf(sample.spec)).toEqual([]);
    const result = validateSpec(validSpec);
    expect(result.ok && result.spec).toEqual({
      ...validSpec,
      database: { ...validSpec.database, migrationsTable: 'pgmigrations', migrationsSchema: 'public' },
      workload: { kind: 'Deployment', name: 'orders-api', scaleDown: 'Always' },
      backup: {
        pvc: 'orders-backups',
        image: 'postgres:16',
        retain: 5,
        jobTTL: '24h',
        verify: 'Read',
        compression: 'auto',
      },
      policy: { approval: 'Automatic', onFailure: 'RestoreWorkload', allowDataLoss: false },
      timeouts: {
        scaleDown: '5m',
        scaleUp: '5m',
        backup: '30m',
        migration: '30m',
        lock: '2s',
        statement: '10m',
      },
      suspend: false,
    });
  });

  it('accepts a label selector in place of ConfigMap names', () => {
    expect(errorsOf({ ...validSpec, migrations: { selector: { matchLabels: { app: 'orders' } } } })).toEqual(
      [],
    );
  });

  it('names the missing targetRevision', () => {
    const { targetRevision: _, ...spec } = validSpec;
    expect(errorsOf(spec)).toEqual(['spec.targetRevision: Required value']);
  });

  it('names a workload kind it cannot scale', () => {
    const errors = errorsOf({ ...validSpec, workload: { kind: 'DaemonSet', name: 'x' } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^spec\.workload\.kind: .*"Deployment"\|"StatefulSet"/);
  });

  it('names a scaleDown mode it does not know', () => {
    const errors = errorsOf({
      ...validSpec,
      workload: { kind: 'Deployment', name: 'x', scaleDown: 'Never' },
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^spec\.workload\.scaleDown: .*"Always"\|"Auto"/);
  });

  it('refuses both configMaps and a selector, and neither', () => {
    const both = { configMaps: [{ name: 'a' }], selector: { matchLabels: { app: 'a' } } };
    expect(errorsOf({ ...validSpec, migrations: both })).toEqual([
      'spec.migrations: set exactly one of configMaps or selector',
    ]);
    expect(errorsOf({ ...validSpec, migrations: {} })).toEqual([
      'spec.migrations: set exactly one of configMaps or selector',
    ]);
  });

  it('names a bad duration and a zero one', () => {
    expect(errorsOf({ ...validSpec, timeouts: { backup: '30 minutes', lock: '0s' } })).toEqual([
      'spec.timeouts.backup: must be a duration such as 30s, 5m or 1h30m',
      'spec.timeouts.lock: must be longer than zero',
    ]);
  });

  it('names array items, nested fields and out-of-range numbers by path', () => {
    const spec = {
      ...validSpec,
      database: { urlFrom: { secretKeyRef: { name: 'orders-db' } } },
      migrations: { configMaps: [{ name: 'ok' }, { name: 'Not_A_Name' }] },
      backup: { pvc: 'b', retain: 0 },
      policy: { onFailure: 'Pray' },
    };
    const errors = errorsOf(spec);
    expect(errors.map((e) => e.split(':')[0])).toEqual([
      'spec.database.urlFrom.secretKeyRef.key',
      'spec.migrations.configMaps[1].name',
      'spec.backup.retain',
      'spec.policy.onFailure',
    ]);
    expect(errors[0]).toBe('spec.database.urlFrom.secretKeyRef.key: Required value');
  });

  it('refuses a spec that is not an object', () => {
    expect(errorsOf(undefined)).toEqual(['spec: Required value']);
    expect(errorsOf('orders')[0]).toMatch(/^spec: /);
  });
});

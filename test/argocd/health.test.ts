import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { parseMigrationSource } from '../../src/migrations/source.js';
import { kustomize as kustomizeDir } from '../support/kustomize.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const checkDir = join(root, 'argocd', 'schemaops.dev', 'SchemaMigration');
const healthLua = join(checkDir, 'health.lua');
const harness = join(root, 'test', 'argocd', 'run.lua');

interface HealthCase {
  healthStatus: { status: string; message: string };
  inputPath: string;
}

type Manifest = {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

/** A Lua 5.1 string literal: printable ASCII as is, anything else as a three-digit decimal byte escape. */
function luaString(text: string): string {
  let out = '"';
  for (const byte of Buffer.from(text, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += printable ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** JSON as a Lua table constructor, the shape Argo CD hands a health check (null becomes absent). */
function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  const fields = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `[${luaString(k)}] = ${luaLiteral(v)}`);
  return `{${fields.join(', ')}}`;
}

/** Runs health.lua on one object through Debian's lua5.1. */
function runHealth(object: unknown): { status: string; message: string } {
  const result = spawnSync('lua5.1', [harness, healthLua], {
    input: `return ${luaLiteral(JSON.parse(JSON.stringify(object)))}`,
    encoding: 'utf8',
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`lua5.1 exited ${String(result.status)}: ${result.stderr}`);
  const newline = result.stdout.indexOf('\n');
  return { status: result.stdout.slice(0, newline), message: result.stdout.slice(newline + 1) };
}

const kustomize = (dir: string) => kustomizeDir<Manifest>(dir);

function only(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found).toHaveLength(1);
  return found[0]!;
}

const cases = (parse(readFileSync(join(checkDir, 'health_test.yaml'), 'utf8')) as { tests: HealthCase[] })
  .tests;

describe('the Argo CD health check for SchemaMigration', () => {
  it.each(cases.map((c) => [c.inputPath, c.healthStatus] as const))(
    '%s reports the expected health',
    (inputPath, expected) => {
      const object: unknown = parse(readFileSync(join(checkDir, inputPath), 'utf8'));
      expect(runHealth(object)).toEqual(expected);
    },
  );

  it('passes messages with quotes, backslashes, newlines and non-ASCII through unchanged', () => {
    const message = 'psql: "orders"\n\\ 10\u00a05 \u2713 7';
    const object = {
      metadata: { name: 'orders', generation: 1 },
      spec: { targetRevision: 'latest' },
      status: {
        observedGeneration: 1,
        phase: 'Failed',
        conditions: [{ type: 'Stalled', status: 'True', reason: 'MigrationFailed', message }],
      },
    };
    expect(runHealth(object)).toEqual({ status: 'Degraded', message });
  });

  it('has a health_test.yaml case for every file in testdata', () => {
    const covered = cases.map((c) => c.inputPath).sort();
    const files = readdirSync(join(checkDir, 'testdata'))
      .map((f) => `testdata/${f}`)
      .sort();
    expect(covered).toEqual(files);
  });

  it('covers every health status Argo CD can act on', () => {
    const statuses = new Set(cases.map((c) => c.healthStatus.status));
    expect([...statuses].sort()).toEqual(['Degraded', 'Healthy', 'Progressing', 'Suspended']);
  });

  it('is embedded verbatim in the argocd-cm snippet', () => {
    const cm = parse(readFileSync(join(root, 'argocd', 'argocd-cm.yaml'), 'utf8')) as Manifest;
    expect(cm.kind).toBe('ConfigMap');
    expect(cm.metadata.name).toBe('argocd-cm');
    expect(cm.data?.['resource.customizations.health.schemaops.dev_SchemaMigration']).toBe(
      readFileSync(healthLua, 'utf8'),
    );
  });
});

describe('the kustomize bases', () => {
  it('keeps config/crd in step with crds/', () => {
    const copy = readFileSync(
      join(root, 'config', 'crd', 'bases', 'schemaops.dev_schemamigrations.yaml'),
      'utf8',
    );
    expect(copy).toBe(readFileSync(join(root, 'crds', 'schemaops.dev_schemamigrations.yaml'), 'utf8'));
  });

  it('renders config/default: the CRD, RBAC and a restricted operator Deployment in schemaops-system', () => {
    const manifests = kustomize('config/default');
    expect(manifests.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole/schemaops-edit',
      'ClusterRole/schemaops-manager-role',
      'ClusterRole/schemaops-view',
      'ClusterRoleBinding/schemaops-manager-rolebinding',
      'CustomResourceDefinition/schemamigrations.schemaops.dev',
      'Deployment/schemaops-controller-manager',
      'Namespace/schemaops-system',
      'Role/schemaops-leader-election-role',
      'RoleBinding/schemaops-leader-election-rolebinding',
      'Service/schemaops-metrics',
      'ServiceAccount/schemaops-controller-manager',
    ]);
    expect(only(manifests, 'Namespace').metadata.name).toBe('schemaops-system');
    const deployment = only(manifests, 'Deployment') as unknown as {
      metadata: { name: string; namespace: string };
      spec: { template: { spec: PodSpec } };
    };
    expect(deployment.metadata).toMatchObject({
      name: 'schemaops-controller-manager',
      namespace: 'schemaops-system',
    });
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('schemaops-controller-manager');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers).toHaveLength(1);
    const manager = pod.containers[0]!;
    expect(manager.image).toBe('schemaops:latest');
    expect(manager.args).toEqual(['operator', '--leader-elect=true']);
    expect(manager.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    ]);
    expect(manager.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(manager.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 8081 });
    expect(manager.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 8081 });
    expect(manager.ports.map((p) => p.containerPort).sort()).toEqual([8080, 8081]);
    expect(manager.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);

    const binding = only(manifests, 'ClusterRoleBinding') as unknown as RoleBinding;
    expect(binding.roleRef.name).toBe('schemaops-manager-role');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'schemaops-controller-manager', namespace: 'schemaops-system' },
    ]);
  });

  it('grants the operator exactly the verbs it uses', () => {
    const role = only(kustomize('config/default'), 'ClusterRole', 'schemaops-manager-role') as unknown as {
      rules: Rule[];
    };
    const grants = role.rules.flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map(
          (resource) => `${group || 'core'} ${resource}: ${[...rule.verbs].sort().join(',')}`,
        ),
      ),
    );
    expect(grants.sort()).toEqual(
      [
        'schemaops.dev schemamigrations: get,list,patch,watch',
        'schemaops.dev schemamigrations/status: patch',
        'schemaops.dev schemamigrations/finalizers: update',
        'core secrets: get',
        'core configmaps: create,get,list,update',
        'core persistentvolumeclaims: get',
        'core pods: list,watch',
        'apps deployments: get,list,patch,watch',
        'apps statefulsets: get,list,patch,watch',
        'apps deployments/scale: patch',
        'apps statefulsets/scale: patch',
        'batch jobs: create,get,list,watch',
        'events.k8s.io events: create',
      ].sort(),
    );
  });

  it("serves /metrics through a Service on the manager's metrics port, and runs the manager with the chart's resources", () => {
    const manifests = kustomize('config/default');
    const service = only(manifests, 'Service') as unknown as {
      metadata: { namespace: string };
      spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
    };
    expect(service.metadata.namespace).toBe('schemaops-system');
    const deployment = only(manifests, 'Deployment') as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
    };
    const labels = deployment.spec.template.metadata.labels;
    expect(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v)).toBe(true);
    expect(service.spec.ports).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    const manager = deployment.spec.template.spec.containers[0]!;
    expect(manager.ports).toContainEqual({ name: 'metrics', containerPort: 8080, protocol: 'TCP' });
    const chartValues = parse(readFileSync(join(root, 'charts', 'schemaops', 'values.yaml'), 'utf8')) as {
      resources: unknown;
    };
    expect(manager.resources).toEqual(chartValues.resources);
    expect(manager.resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
  });

  it('folds SchemaMigrations into the built-in view, edit and admin roles: read for viewers, write but not status for editors', () => {
    const manifests = kustomize('config/default');
    const view = only(manifests, 'ClusterRole', 'schemaops-view') as unknown as Manifest & {
      metadata: { labels: Record<string, string> };
      rules: Rule[];
    };
    const edit = only(manifests, 'ClusterRole', 'schemaops-edit') as unknown as typeof view;
    expect(view.metadata.labels['rbac.authorization.k8s.io/aggregate-to-view']).toBe('true');
    expect(edit.metadata.labels['rbac.authorization.k8s.io/aggregate-to-edit']).toBe('true');
    expect(edit.metadata.labels['rbac.authorization.k8s.io/aggregate-to-admin']).toBe('true');
    expect(view.rules).toEqual([
      {
        apiGroups: ['schemaops.dev'],
        resources: ['schemamigrations', 'schemamigrations/status'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    expect(edit.rules).toEqual([
      {
        apiGroups: ['schemaops.dev'],
        resources: ['schemamigrations'],
        verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'],
      },
    ]);
  });

  it('grants the election Lease only in the operator namespace, and only the one it uses', () => {
    const manifests = kustomize('config/default');
    const role = only(manifests, 'Role') as unknown as {
      metadata: { name: string; namespace: string };
      rules: Rule[];
    };
    expect(role.metadata.namespace).toBe('schemaops-system');
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: [loadConfig({}, {}).leaseName],
        verbs: ['get', 'update'],
      },
    ]);
    const binding = only(manifests, 'RoleBinding') as unknown as RoleBinding & {
      metadata: { namespace: string };
    };
    expect(binding.metadata.namespace).toBe('schemaops-system');
    expect(binding.roleRef.name).toBe(role.metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'schemaops-controller-manager', namespace: 'schemaops-system' },
    ]);
  });

  it('renders config/samples: a SchemaMigration, its Secret and a ConfigMap of valid migration files', () => {
    const manifests = kustomize('config/samples');
    expect(manifests.map((m) => m.kind).sort()).toEqual(['ConfigMap', 'SchemaMigration', 'Secret']);
    for (const m of manifests) expect(m.metadata.namespace).toBe('shop');

    const migration = only(manifests, 'SchemaMigration').spec as unknown as SampleSpec;
    const secret = only(manifests, 'Secret');
    const configMap = only(manifests, 'ConfigMap');
    expect(secret.metadata.name).toBe(migration.database.urlFrom.secretKeyRef.name);
    expect(Object.keys(secret.stringData ?? {})).toEqual([migration.database.urlFrom.secretKeyRef.key]);
    expect(migration.migrations.configMaps).toEqual([{ name: configMap.metadata.name }]);

    const source = parseMigrationSource(configMap.data ?? {});
    expect(source.length).toBeGreaterThanOrEqual(2);
    expect(source.every((m) => m.down !== undefined)).toBe(true);
    expect(source.map((m) => m.revision)).toContain(migration.targetRevision);
  });
});

interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  volumes: unknown[];
  containers: {
    image: string;
    args: string[];
    env: unknown[];
    securityContext: Record<string, unknown>;
    livenessProbe: { httpGet: unknown };
    readinessProbe: { httpGet: unknown };
    ports: { name: string; containerPort: number; protocol: string }[];
    resources: unknown;
    volumeMounts: unknown[];
  }[];
}

interface RoleBinding {
  roleRef: { name: string };
  subjects: unknown[];
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface SampleSpec {
  targetRevision: string;
  database: { urlFrom: { secretKeyRef: { name: string; key: string } } };
  migrations: { configMaps: { name: string }[] };
}

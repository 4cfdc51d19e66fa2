import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1NetworkPolicy,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
} from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import {
  CHART,
  findHelm,
  helmEnv,
  kustomizeRules,
  NAMESPACE,
  normaliseRules,
  RELEASE,
  root,
  scenarioNames,
  scenarios,
  setFlags,
  type KubeObject,
  type Scenario,
} from './helm.js';

const CRD_SOURCE = 'crds/schemaops.dev_schemamigrations.yaml';
const CRD_TEMPLATE = 'charts/schemaops/templates/crd.yaml';
const MODELS_DIR = join(root, 'node_modules/@kubernetes/client-node/dist/gen/models');

// ---------------------------------------------------------------------------------------------------------
// helm template: rendering only, no cluster (test/chart/install.test.ts installs the chart on one)

let helmHome = '';
let helmBinary: string | undefined;

function helm(args: string[]): { status: number; stdout: string; stderr: string } {
  helmBinary ??= findHelm();
  const result = spawnSync(helmBinary, args, { cwd: root, encoding: 'utf8', env: helmEnv(helmHome) });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function render(values: Record<string, string> = {}): KubeObject[] {
  const result = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, ...setFlags(values)]);
  if (result.status !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as unknown)
    .filter((object): object is KubeObject => object !== null && object !== undefined);
}

const rendered = new Map<Scenario, KubeObject[]>();
function objects(scenario: Scenario): KubeObject[] {
  const found = rendered.get(scenario);
  if (found === undefined) throw new Error(`${scenario} was not rendered`);
  return found;
}

function only<T>(scenario: Scenario, kind: string, name?: string): T {
  const matches = objects(scenario).filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (matches.length !== 1) throw new Error(`${scenario}: expected one ${kind}, found ${matches.length}`);
  return matches[0] as T;
}

function kinds(scenario: Scenario): string[] {
  return objects(scenario)
    .map((o) => `${o.kind}/${o.metadata.name}`)
    .sort();
}

function operatorContainer(scenario: Scenario): V1Container {
  const container = only<V1Deployment>(scenario, 'Deployment').spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error('the Deployment has no container');
  return container;
}

// ---------------------------------------------------------------------------------------------------------
// Validation against the Kubernetes schemas: the OpenAPI models @kubernetes/client-node is generated from.

/** The built-in kinds the chart may render, with the client-node model generated from their OpenAPI schema. */
const modelByKind: Readonly<Record<string, string>> = {
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/Service': 'V1Service',
  'apps/v1/Deployment': 'V1Deployment',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'V1ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'V1ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'apiextensions.k8s.io/v1/CustomResourceDefinition': 'V1CustomResourceDefinition',
  'v1/ConfigMap': 'V1ConfigMap',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
  'networking.k8s.io/v1/NetworkPolicy': 'V1NetworkPolicy',
};
const clusterScopedKinds = new Set(['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}
interface Model {
  getAttributeTypeMap(): Attribute[];
}

const modelExports = k8s as unknown as Record<string, Model | undefined>;
const requiredByModel = new Map<string, Set<string>>();

/** Required properties, read from the generated declaration (a property without `?`). */
function requiredOf(model: string): Set<string> {
  let required = requiredByModel.get(model);
  if (required === undefined) {
    const declaration = readFileSync(join(MODELS_DIR, `${model}.d.ts`), 'utf8');
    required = new Set([...declaration.matchAll(/^\s+'([^']+)':/gm)].map((m) => m[1]!));
    requiredByModel.set(model, required);
  }
  return required;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkModel(value: unknown, model: string, path: string, errors: string[]): void {
  const attributes = modelExports[model]?.getAttributeTypeMap();
  if (attributes === undefined) return void errors.push(`${path}: no schema for ${model}`);
  if (!isRecord(value)) return void errors.push(`${path}: expected an object (${model})`);
  const byField = new Map(attributes.map((a) => [a.baseName, a]));
  for (const [field, fieldValue] of Object.entries(value)) {
    const attribute = byField.get(field);
    if (attribute === undefined) errors.push(`${path}.${field}: unknown field in ${model}`);
    else if (fieldValue !== null) checkType(fieldValue, attribute, `${path}.${field}`, errors);
  }
  for (const name of requiredOf(model)) {
    const field = attributes.find((a) => a.name === name)?.baseName ?? name;
    if (value[field] === undefined || value[field] === null)
      errors.push(`${path}.${field}: required in ${model}`);
  }
}

const scalarChecks: Readonly<Record<string, (value: unknown, format: string) => boolean>> = {
  string: (v) => typeof v === 'string',
  boolean: (v) => typeof v === 'boolean',
  number: (v, format) => typeof v === 'number' && (!format.startsWith('int') || Number.isInteger(v)),
  Date: (v) => typeof v === 'string',
  IntOrString: (v) => typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)),
  any: () => true,
  object: () => true,
};

function checkType(
  value: unknown,
  attribute: Pick<Attribute, 'type' | 'format'>,
  path: string,
  errors: string[],
) {
  const { type, format } = attribute;
  const array = /^Array<(.+)>$/.exec(type);
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const scalar = scalarChecks[type];
  if (array) {
    if (!Array.isArray(value)) return void errors.push(`${path}: expected an array`);
    value.forEach((item, i) => checkType(item, { type: array[1]!, format }, `${path}[${i}]`, errors));
  } else if (map) {
    if (!isRecord(value)) return void errors.push(`${path}: expected a map`);
    // Resource quantities are strings in the schema; the API server also takes plain numbers.
    const quantities = /\.(limits|requests)$/.test(path);
    for (const [key, item] of Object.entries(value))
      if (!(quantities && typeof item === 'number'))
        checkType(item, { type: map[1]!, format }, `${path}.${key}`, errors);
  } else if (scalar) {
    if (!scalar(value, format)) errors.push(`${path}: expected ${type}${format ? ` (${format})` : ''}`);
  } else checkModel(value, type, path, errors);
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkMetadata(object: KubeObject, namespaces: string[], errors: string[]): void {
  const { name, namespace, labels = {} } = object.metadata;
  const where = `${object.kind}/${name}`;
  if (!dns1123Subdomain.test(name) || name.length > 253) errors.push(`${where}: invalid name`);
  if (clusterScopedKinds.has(object.kind)) {
    if (namespace !== undefined) errors.push(`${where}: a cluster-scoped object with a namespace`);
  } else if (!namespaces.includes(namespace ?? ''))
    errors.push(`${where}: unexpected namespace ${namespace}`);
  for (const [key, value] of Object.entries(labels))
    if (typeof value !== 'string' || value.length > 63 || !labelValue.test(value))
      errors.push(`${where}: label ${key} has an invalid value ${JSON.stringify(value)}`);
}

function matchesSelector(selector: Record<string, string> | undefined, labels: Record<string, string> = {}) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

function checkDeployment(deployment: V1Deployment, all: KubeObject[], errors: string[]): void {
  const template = deployment.spec?.template;
  if (!matchesSelector(deployment.spec?.selector.matchLabels, template?.metadata?.labels))
    errors.push('Deployment: the selector does not match the pod template');
  const pod = template?.spec;
  const accountName = pod?.serviceAccountName;
  const accounts = all.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
  if (accounts.length > 0 && !accounts.includes(accountName ?? ''))
    errors.push(`Deployment: serviceAccountName ${accountName} is not rendered`);
  const volumes = new Set((pod?.volumes ?? []).map((v) => v.name));
  for (const volume of pod?.volumes ?? [])
    if (Object.keys(volume).filter((key) => key !== 'name').length !== 1)
      errors.push(`Deployment: volume ${volume.name} needs exactly one source`);
  for (const container of pod?.containers ?? []) {
    const ports = new Set((container.ports ?? []).map((p) => p.name));
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      const port = probe?.httpGet?.port;
      if (typeof port === 'string' && !ports.has(port))
        errors.push(`Deployment: a probe uses port ${port}, which the container does not name`);
    }
    for (const mount of container.volumeMounts ?? [])
      if (!volumes.has(mount.name)) errors.push(`Deployment: mount of a missing volume ${mount.name}`);
    for (const port of container.ports ?? [])
      if (port.name !== undefined && (port.name.length > 15 || !dns1123Label.test(port.name)))
        errors.push(`Deployment: invalid port name ${port.name}`);
  }
}

function checkService(service: V1Service, deployment: V1Deployment | undefined, errors: string[]): void {
  const labels = deployment?.spec?.template.metadata?.labels;
  if (!matchesSelector(service.spec?.selector, labels)) errors.push('Service: the selector matches no pod');
  const portNames = new Set(
    (deployment?.spec?.template.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name)),
  );
  for (const port of service.spec?.ports ?? [])
    if (typeof port.targetPort === 'string' && !portNames.has(port.targetPort))
      errors.push(`Service: targetPort ${port.targetPort} is not a container port`);
}

function checkBinding(binding: V1RoleBinding | V1ClusterRoleBinding, all: KubeObject[], errors: string[]) {
  const { kind, name } = binding.roleRef;
  if (!all.some((o) => o.kind === kind && o.metadata.name === name))
    errors.push(`${binding.kind}/${binding.metadata?.name}: roleRef ${kind}/${name} is not rendered`);
  for (const subject of binding.subjects ?? [])
    if (subject.kind !== 'ServiceAccount' || subject.namespace !== NAMESPACE)
      errors.push(`${binding.kind}/${binding.metadata?.name}: unexpected subject ${subject.kind}`);
}

/** ServiceMonitor is not built in: check the fields Prometheus Operator needs and that they point somewhere. */
function checkServiceMonitor(monitor: KubeObject, all: KubeObject[], errors: string[]): void {
  const spec = isRecord(monitor.spec) ? monitor.spec : {};
  const selector = isRecord(spec.selector)
    ? (spec.selector.matchLabels as Record<string, string>)
    : undefined;
  const services = all.filter((o): o is KubeObject & V1Service => o.kind === 'Service');
  const service = services.find((s) => matchesSelector(selector, s.metadata.labels));
  if (monitor.apiVersion !== 'monitoring.coreos.com/v1') errors.push('ServiceMonitor: unexpected apiVersion');
  if (service === undefined) return void errors.push('ServiceMonitor: the selector matches no Service');
  const endpoints = Array.isArray(spec.endpoints) ? (spec.endpoints as unknown[]) : [];
  if (endpoints.length === 0) errors.push('ServiceMonitor: no endpoints');
  const portNames = new Set((service.spec?.ports ?? []).map((p) => p.name));
  for (const endpoint of endpoints)
    if (!isRecord(endpoint) || typeof endpoint.port !== 'string' || !portNames.has(endpoint.port))
      errors.push('ServiceMonitor: an endpoint names no port of the Service');
}

/** PrometheusRule is not built in either: groups of named rules, each an alert with an expression (promtool checks the rest). */
function checkPrometheusRule(rule: KubeObject, errors: string[]): void {
  const spec = isRecord(rule.spec) ? rule.spec : {};
  if (rule.apiVersion !== 'monitoring.coreos.com/v1') errors.push('PrometheusRule: unexpected apiVersion');
  const groups = Array.isArray(spec.groups) ? (spec.groups as unknown[]) : [];
  if (groups.length === 0) errors.push('PrometheusRule: no groups');
  for (const group of groups) {
    const rules = isRecord(group) && Array.isArray(group.rules) ? (group.rules as unknown[]) : [];
    if (!isRecord(group) || typeof group.name !== 'string' || rules.length === 0)
      errors.push('PrometheusRule: a group without a name or rules');
    for (const r of rules)
      if (!isRecord(r) || typeof r.alert !== 'string' || typeof r.expr !== 'string')
        errors.push('PrometheusRule: a rule without alert or expr');
  }
}

/** Problems with the rendered objects; namespaced ones may only be in `namespaces`. */
function validate(all: KubeObject[], namespaces = [NAMESPACE]): string[] {
  const errors: string[] = [];
  const deployment = all.find((o) => o.kind === 'Deployment') as V1Deployment | undefined;
  for (const object of all) {
    checkMetadata(object, namespaces, errors);
    const model = modelByKind[`${object.apiVersion}/${object.kind}`];
    if (model !== undefined) checkModel(object, model, `${object.kind}/${object.metadata.name}`, errors);
    else if (object.kind === 'ServiceMonitor') checkServiceMonitor(object, all, errors);
    else if (object.kind === 'PrometheusRule') checkPrometheusRule(object, errors);
    else errors.push(`${object.apiVersion} ${object.kind}: not a kind the chart should render`);
    if (object.kind === 'Deployment') checkDeployment(object, all, errors);
    if (object.kind === 'Service') checkService(object, deployment, errors);
    if (object.kind.endsWith('Binding')) checkBinding(object as unknown as V1RoleBinding, all, errors);
  }
  const names = all.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  for (const name of new Set(names))
    if (names.indexOf(name) !== names.lastIndexOf(name)) errors.push(`${name} is rendered twice`);
  return errors;
}

// ---------------------------------------------------------------------------------------------------------
// RBAC: what the chart grants, and what src/ calls

const operatorRules: V1PolicyRule[] = [
  { apiGroups: ['schemaops.dev'], resources: ['schemamigrations'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['schemaops.dev'], resources: ['schemamigrations/status'], verbs: ['patch'] },
  { apiGroups: ['schemaops.dev'], resources: ['schemamigrations/finalizers'], verbs: ['update'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'update'] },
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['get'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'statefulsets'],
    verbs: ['get', 'list', 'watch', 'patch'],
  },
  { apiGroups: ['apps'], resources: ['deployments/scale', 'statefulsets/scale'], verbs: ['patch'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
];
const leaseRules = (name: string): V1PolicyRule[] => [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    resourceNames: [name],
    verbs: ['get', 'update'],
  },
];

/** A role for people, folded into the built-in view, edit or admin ClusterRole. */
const isAggregated = (role: KubeObject) =>
  Object.keys(role.metadata.labels ?? {}).some((label) =>
    label.startsWith('rbac.authorization.k8s.io/aggregate-to-'),
  );

function grants(rule: V1PolicyRule): string[] {
  return (rule.apiGroups ?? []).flatMap((group) =>
    (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${group} ${resource} ${verb}`)),
  );
}

const resourceByKind: Readonly<Record<string, [group: string, resource: string]>> = {
  CustomObject: ['schemaops.dev', 'schemamigrations'],
  Secret: ['', 'secrets'],
  ConfigMap: ['', 'configmaps'],
  PersistentVolumeClaim: ['', 'persistentvolumeclaims'],
  Pod: ['', 'pods'],
  Deployment: ['apps', 'deployments'],
  StatefulSet: ['apps', 'statefulsets'],
  Job: ['batch', 'jobs'],
  Lease: ['coordination.k8s.io', 'leases'],
  Event: ['', 'events'],
};
const verbByMethod: Readonly<Record<string, string>> = {
  read: 'get',
  get: 'get',
  list: 'list',
  create: 'create',
  patch: 'patch',
  replace: 'update',
  delete: 'delete',
  deleteCollection: 'deletecollection',
};
const apiCall =
  /\.(?:(read|get|list|create|patch|replace|deleteCollection|delete)(?:Namespaced|Cluster)([A-Z][A-Za-z]*?)(Status|Scale)?|(list)([A-Z][A-Za-z]*?)ForAllNamespaces)\(/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'localcluster' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/**
 * The grants the operator's calls need, read from the files that use @kubernetes/client-node's API clients:
 * `<verb>Namespaced<Kind>[Status|Scale](` and `list<Kind>ForAllNamespaces(`; an informer also watches what
 * it lists. Owner references with blockOwnerDeletion need update on the owner's finalizers.
 */
function grantsTheCodeNeeds(): { needed: Map<string, string[]>; unmapped: string[] } {
  const needed = new Map<string, string[]>();
  const unmapped: string[] = [];
  const need = (grant: string, file: string) => needed.set(grant, [...(needed.get(grant) ?? []), file]);
  for (const path of sourceFiles(join(root, 'src'))) {
    const text = readFileSync(path, 'utf8');
    const file = relative(root, path);
    if (/blockOwnerDeletion:\s*true/.test(text))
      need('schemaops.dev schemamigrations/finalizers update', file);
    if (!/from '@kubernetes\/client-node'/.test(text)) continue;
    const informer = text.includes('makeInformer(');
    for (const match of text.matchAll(apiCall)) {
      const method = match[1] ?? match[4]!;
      const kind = match[2] ?? match[5]!;
      const mapped = resourceByKind[kind];
      if (mapped === undefined) {
        unmapped.push(`${file}: ${match[0]}`);
        continue;
      }
      const group = kind === 'Event' && text.includes('EventsV1Api') ? 'events.k8s.io' : mapped[0];
      const resource = match[3] ? `${mapped[1]}/${match[3].toLowerCase()}` : mapped[1];
      const verb = verbByMethod[method]!;
      need(`${group} ${resource} ${verb}`, file);
      if (verb === 'list' && informer) need(`${group} ${resource} watch`, file);
    }
  }
  return { needed, unmapped };
}

// ---------------------------------------------------------------------------------------------------------
// The CRD: a copy of crds/, guarded by crds.install and kept on uninstall

/** The chart's CRD template, generated from the CRD in crds/. */
function crdTemplate(source: string): string {
  if (source.includes('{{')) throw new Error(`${CRD_SOURCE} contains "{{": escape it for Helm`);
  const lines = source
    .replace(/^(#.*\n)+/, '')
    .trimEnd()
    .split('\n');
  const metadata = lines.indexOf('metadata:');
  const name = lines.findIndex((line, i) => i > metadata && line.startsWith('  name: '));
  if (metadata < 0 || name < 0) throw new Error(`${CRD_SOURCE} has no metadata.name`);
  lines.splice(
    name + 1,
    0,
    '  annotations:',
    '    helm.sh/resource-policy: keep',
    '  labels:',
    '    {{- include "schemaops.labels" . | nindent 4 }}',
  );
  return [
    `{{- /* Generated from ${CRD_SOURCE} by test/chart/chart.test.ts; do not edit. */}}`,
    '{{- /* Regenerate with: UPDATE_CHART_CRD=1 npm test -- test/chart */}}',
    '{{- if .Values.crds.install }}',
    ...lines,
    '{{- end }}',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------------

describe('the Helm chart', () => {
  beforeAll(() => {
    helmHome = mkdtempSync(join(tmpdir(), 'schemaops-helm-'));
    if (process.env.UPDATE_CHART_CRD === '1')
      writeFileSync(join(root, CRD_TEMPLATE), crdTemplate(readFileSync(join(root, CRD_SOURCE), 'utf8')));
    for (const scenario of scenarioNames) rendered.set(scenario, render(scenarios[scenario]));
  });
  afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

  it.each(scenarioNames)('passes helm lint --strict with the %s values', (scenario) => {
    const result = helm([
      'lint',
      CHART,
      '--strict',
      '--namespace',
      NAMESPACE,
      ...setFlags(scenarios[scenario]),
    ]);
    expect(`${result.stdout}${result.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  it.each(scenarioNames)(
    'renders with the %s values only objects valid against the Kubernetes schema of their kind',
    (scenario) => {
      expect(objects(scenario).length).toBeGreaterThan(0);
      expect(validate(objects(scenario), [NAMESPACE, 'shop', 'billing', 'monitoring'])).toEqual([]);
    },
  );

  it('catches what the schema check is there for: unknown fields, wrong types, missing fields', () => {
    const deployment = structuredClone(only<KubeObject & V1Deployment>('default', 'Deployment'));
    const container = deployment.spec!.template.spec!.containers[0]!;
    Object.assign(container.securityContext!, { readOnlyRootFilesytem: true, runAsUser: '65532' });
    delete (container as Partial<V1Container>).name;
    expect(validate([deployment as KubeObject])).toEqual([
      'Deployment/schemaops.spec.template.spec.containers[0].securityContext.runAsUser: expected number (int64)',
      'Deployment/schemaops.spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem: unknown field in V1SecurityContext',
      'Deployment/schemaops.spec.template.spec.containers[0].name: required in V1Container',
    ]);
  });

  it('installs by default the CRD, a ServiceAccount, cluster-wide RBAC, the elected operator and its metrics Service', () => {
    expect(kinds('default')).toEqual([
      'ClusterRole/schemaops',
      'ClusterRole/schemaops-edit',
      'ClusterRole/schemaops-view',
      'ClusterRoleBinding/schemaops',
      'CustomResourceDefinition/schemamigrations.schemaops.dev',
      'Deployment/schemaops',
      'Role/schemaops-leader-election',
      'RoleBinding/schemaops-leader-election',
      'Service/schemaops-metrics',
      'ServiceAccount/schemaops',
    ]);
  });

  it('runs the operator non-root on a read-only root filesystem, with a writable /tmp', () => {
    const deployment = only<V1Deployment>('default', 'Deployment');
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(operatorContainer('default').securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(operatorContainer('default').volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }]);
    expect(only<V1Deployment>('customised', 'Deployment').spec!.template.spec!.volumes).toEqual([
      { name: 'tmp', emptyDir: {} },
    ]);
    expect(pod.serviceAccountName).toBe('schemaops');
  });

  it('starts `operator` with the values as flags, from the appVersion image, with health probes on 8081', () => {
    const container = operatorContainer('default');
    expect(container.image).toBe('ghcr.io/schemaops/schemaops:0.2.0');
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    expect(container.command).toBeUndefined();
    expect(container.args).toEqual([
      'operator',
      '--max-concurrent-reconciles',
      '4',
      '--log-level',
      'info',
      '--leader-elect',
      'true',
      '--lease-name',
      'schemaops-leader',
      '--lease-namespace',
      NAMESPACE,
    ]);
    expect(container.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'health', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    const service = only<V1Service>('default', 'Service');
    expect(service.spec?.ports).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
  });

  it('grants cluster-wide exactly the operator rules, and the Lease only in the release namespace', () => {
    expect(only<V1ClusterRole>('default', 'ClusterRole', 'schemaops').rules).toEqual(operatorRules);
    const binding = only<V1ClusterRoleBinding>('default', 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'schemaops',
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'schemaops', namespace: NAMESPACE }]);
    const leaseRole = only<V1Role>('default', 'Role', 'schemaops-leader-election');
    expect(leaseRole.metadata?.namespace).toBe(NAMESPACE);
    expect(leaseRole.rules).toEqual(leaseRules('schemaops-leader'));
    const leaseBinding = only<V1RoleBinding>('default', 'RoleBinding', 'schemaops-leader-election');
    expect(leaseBinding.roleRef.name).toBe('schemaops-leader-election');
    expect(leaseBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'schemaops', namespace: NAMESPACE },
    ]);
  });

  it('grants what config/rbac grants, so that the chart and the kustomize RBAC cannot drift', () => {
    const manager = normaliseRules(kustomizeRules('role.yaml'));
    expect(manager.length).toBeGreaterThan(5);
    expect(normaliseRules(only<V1ClusterRole>('default', 'ClusterRole', 'schemaops').rules ?? [])).toEqual(
      manager,
    );
    expect(normaliseRules(only<V1Role>('namespaced', 'Role', 'schemaops').rules ?? [])).toEqual(manager);
    const election = only<V1Role>('default', 'Role', 'schemaops-leader-election').rules ?? [];
    expect(normaliseRules(election)).toEqual(normaliseRules(kustomizeRules('leader_election_role.yaml')));
  });

  it('keeps to the release namespace with rbac.scope=namespace: a Role, a RoleBinding and --namespaces', () => {
    // Only the roles for people, which the built-in view and edit ClusterRoles aggregate, are cluster-wide.
    expect(kinds('namespaced').filter((k) => k.startsWith('Cluster'))).toEqual([
      'ClusterRole/schemaops-edit',
      'ClusterRole/schemaops-view',
    ]);
    expect(kinds('withoutAggregatedRoles').filter((k) => k.includes('-view') || k.includes('-edit'))).toEqual(
      [],
    );
    const role = only<V1Role>('namespaced', 'Role', 'schemaops');
    expect(role.metadata?.namespace).toBe(NAMESPACE);
    expect(role.rules).toEqual(operatorRules);
    const binding = only<V1RoleBinding>('namespaced', 'RoleBinding', 'schemaops');
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'schemaops',
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'schemaops', namespace: NAMESPACE }]);
    const args = operatorContainer('namespaced').args ?? [];
    expect(args.slice(args.indexOf('--namespaces'), args.indexOf('--namespaces') + 2)).toEqual([
      '--namespaces',
      NAMESPACE,
    ]);
    expect(operatorContainer('default').args).not.toContain('--namespaces');
  });

  it('grants a Role in each of the watchNamespaces and watches those', () => {
    const roles = objects('watchNamespaces').filter(
      (o) => o.kind === 'Role' && o.metadata.name === 'schemaops',
    );
    expect(roles.map((r) => r.metadata.namespace)).toEqual(['shop', 'billing']);
    for (const role of roles) expect((role as V1Role).rules).toEqual(operatorRules);
    const bindings = objects('watchNamespaces').filter(
      (o): o is KubeObject & V1RoleBinding => o.kind === 'RoleBinding' && o.metadata.name === 'schemaops',
    );
    expect(bindings.map((b) => [b.metadata.namespace, b.subjects])).toEqual([
      ['shop', [{ kind: 'ServiceAccount', name: 'schemaops', namespace: NAMESPACE }]],
      ['billing', [{ kind: 'ServiceAccount', name: 'schemaops', namespace: NAMESPACE }]],
    ]);
    expect(operatorContainer('watchNamespaces').args).toContain('shop,billing');
    const refused = helm(['template', RELEASE, CHART, ...setFlags({ watchNamespaces: '{shop}' })]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('watchNamespaces needs rbac.scope=namespace');
  });

  it('elects a leader with 2 replicas even when leaderElection.enabled=false, and rolls updates', () => {
    const deployment = only<V1Deployment>('twoReplicas', 'Deployment');
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.strategy).toEqual({ type: 'RollingUpdate' });
    const args = operatorContainer('twoReplicas').args ?? [];
    expect(args.slice(args.indexOf('--leader-elect'), args.indexOf('--leader-elect') + 2)).toEqual([
      '--leader-elect',
      'true',
    ]);
    expect(only<V1Role>('twoReplicas', 'Role', 'schemaops-leader-election').rules).toEqual(
      leaseRules('schemaops-leader'),
    );
    expect(only<V1ClusterRole>('twoReplicas', 'ClusterRole', 'schemaops').rules).toEqual(operatorRules);
  });

  it('never runs two operators side by side without an election: the one replica is replaced, not rolled', () => {
    expect(only<V1Deployment>('withoutElection', 'Deployment').spec?.strategy).toEqual({ type: 'Recreate' });
    const args = operatorContainer('withoutElection').args ?? [];
    expect(args.slice(args.indexOf('--leader-elect'))).toEqual(['--leader-elect', 'false']);
    expect(kinds('withoutElection').filter((k) => k.includes('leader-election'))).toEqual([]);
    expect(only<V1Deployment>('default', 'Deployment').spec?.strategy).toEqual({ type: 'RollingUpdate' });
  });

  it('renders every value of the customised set where it belongs', () => {
    const container = operatorContainer('customised');
    expect(container.image).toBe('ghcr.io/schemaops/schemaops:0.2.0-rc.1');
    expect(container.imagePullPolicy).toBe('Always');
    expect(container.args).toEqual([
      'operator',
      '--max-concurrent-reconciles',
      '8',
      '--log-level',
      'debug',
      '--namespaces',
      NAMESPACE,
      '--leader-elect',
      'true',
      '--lease-name',
      'migrations-leader',
      '--lease-namespace',
      NAMESPACE,
      '--some-flag',
    ]);
    const pod = only<V1Deployment>('customised', 'Deployment').spec!.template;
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: 'registry' }]);
    expect(pod.spec?.serviceAccountName).toBe('migrator');
    expect(pod.metadata?.labels?.team).toBe('platform');
    expect(kinds('customised')).toEqual([
      'ClusterRole/migrations-edit',
      'ClusterRole/migrations-view',
      'CustomResourceDefinition/schemamigrations.schemaops.dev',
      'Deployment/migrations',
      'Role/migrations',
      'Role/migrations-leader-election',
      'RoleBinding/migrations',
      'RoleBinding/migrations-leader-election',
      'Service/migrations-metrics',
      'ServiceAccount/migrator',
      'ServiceMonitor/migrations',
    ]);
    expect(only<KubeObject>('customised', 'ServiceMonitor').metadata.labels?.release).toBe('prometheus');
  });

  it('scrapes /metrics through the metrics Service when the ServiceMonitor is on, and only then', () => {
    expect(kinds('default').some((k) => k.startsWith('ServiceMonitor/'))).toBe(false);
    const monitor = only<KubeObject>('serviceMonitor', 'ServiceMonitor');
    expect(monitor.spec).toEqual({
      selector: {
        matchLabels: {
          'app.kubernetes.io/name': 'schemaops',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/component': 'metrics',
        },
      },
      namespaceSelector: { matchNames: [NAMESPACE] },
      endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
    });
  });

  it('installs the CRD unless crds.install=false, and keeps it on uninstall', () => {
    expect(kinds('withoutCrd').some((k) => k.startsWith('CustomResourceDefinition/'))).toBe(false);
    expect(kinds('withoutCrd')).toHaveLength(kinds('default').length - 1);
    const crd = only<KubeObject>('default', 'CustomResourceDefinition');
    expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
  });

  it(`ships ${CRD_SOURCE} unchanged but for the keep annotation and the release labels`, () => {
    const source = readFileSync(join(root, CRD_SOURCE), 'utf8');
    const crd = structuredClone(only<KubeObject>('default', 'CustomResourceDefinition'));
    expect(crd.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    delete crd.metadata.annotations;
    delete crd.metadata.labels;
    expect(crd).toEqual(parse(source));
    if (readFileSync(join(root, CRD_TEMPLATE), 'utf8') !== crdTemplate(source))
      throw new Error(
        `${CRD_TEMPLATE} is not generated from ${CRD_SOURCE}: run UPDATE_CHART_CRD=1 npm test -- test/chart`,
      );
  });

  it('refuses values outside values.schema.json', () => {
    const refused: Record<string, string>[] = [
      { 'rbac.scope': 'everywhere' },
      { 'operator.logLevel': 'loud' },
      { replicas: '2' },
      { 'metrics.serviceMonitor.interval': '30 seconds' },
      { 'metrics.serviceMonitor.scrapeTimeout': '10sec' },
      { 'metrics.prometheusRule.stalledFor': '15 minutes' },
      { 'podDisruptionBudget.minAvailable': 'half' },
      { 'networkPolicy.database.ports[0]': '0' },
      { 'networkPolicy.apiServer.cidrs[0]': '10.0.0.1' },
      { 'livenessProbe.periodSeconds': '0' },
      { 'livenessProbe.httpGet.path': '/other' },
      { 'extraVolumeMounts[0].name': 'db-ca' },
    ];
    for (const values of refused) {
      const result = helm(['template', RELEASE, CHART, ...setFlags(values)]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/schema/i);
    }
  });

  it('grants exactly the API calls the code in src/ makes', () => {
    const roles = objects('default').filter(
      (o) => (o.kind === 'ClusterRole' || o.kind === 'Role') && !isAggregated(o),
    );
    const granted = roles.flatMap((role) => (role as V1Role).rules ?? []).flatMap(grants);
    const { needed, unmapped } = grantsTheCodeNeeds();
    expect(unmapped).toEqual([]);
    const missing = [...needed]
      .filter(([grant]) => !granted.includes(grant))
      .map(([g, files]) => `${g} (${files.join(', ')})`);
    expect(missing).toEqual([]);
    const unused = granted.filter((grant) => !needed.has(grant));
    expect(unused).toEqual([]);
    expect(needed.size).toBeGreaterThan(15);
  });
  it('takes the pod and container security contexts from values, a null dropping a field', () => {
    const pod = only<V1Deployment>('hardened', 'Deployment').spec!.template.spec!;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1001,
      runAsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(operatorContainer('hardened').securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('mounts extra volumes beside /tmp and passes extra environment: a CA bundle for the database', () => {
    const pod = only<V1Deployment>('hardened', 'Deployment').spec!.template.spec!;
    expect(pod.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
      { name: 'db-ca', configMap: { name: 'db-ca' } },
    ]);
    const container = operatorContainer('hardened');
    expect(container.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'db-ca', mountPath: '/etc/schemaops/ca', readOnly: true },
    ]);
    expect(container.env).toEqual([{ name: 'NODE_EXTRA_CA_CERTS', value: '/etc/schemaops/ca/ca.crt' }]);
    expect(operatorContainer('default').env).toBeUndefined();
  });

  it('times the probes from values; their paths and port stay /healthz and /readyz on health', () => {
    expect(operatorContainer('default').livenessProbe).toEqual({
      httpGet: { path: '/healthz', port: 'health' },
      initialDelaySeconds: 5,
      periodSeconds: 20,
      timeoutSeconds: 1,
      failureThreshold: 3,
    });
    expect(operatorContainer('hardened').livenessProbe).toEqual({
      httpGet: { path: '/healthz', port: 'health' },
      initialDelaySeconds: 5,
      periodSeconds: 30,
      timeoutSeconds: 1,
      failureThreshold: 5,
    });
    expect(operatorContainer('hardened').readinessProbe).toEqual({
      httpGet: { path: '/readyz', port: 'health' },
      initialDelaySeconds: 2,
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
    });
  });

  it('renders a PodDisruptionBudget for the operator pods only when asked: maxUnavailable 1, or minAvailable', () => {
    for (const scenario of ['default', 'monitoring', 'customised'] as const)
      expect(kinds(scenario).filter((k) => k.startsWith('PodDisruptionBudget/'))).toEqual([]);
    const pods = only<V1Deployment>('hardened', 'Deployment').spec!.template.metadata!.labels;
    const budget = only<KubeObject & V1PodDisruptionBudget>('hardened', 'PodDisruptionBudget');
    expect(budget.spec).toEqual({
      maxUnavailable: 1,
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'schemaops', 'app.kubernetes.io/instance': RELEASE },
      },
    });
    expect(matchesSelector(budget.spec?.selector?.matchLabels, pods)).toBe(true);
    const strict = only<V1PodDisruptionBudget>('minAvailable', 'PodDisruptionBudget').spec;
    expect([strict?.minAvailable, strict?.maxUnavailable]).toEqual([1, undefined]);
  });

  it('renders a NetworkPolicy only when asked: in to metrics and health, out to the API server, DNS and the databases', () => {
    expect(kinds('default').filter((k) => k.startsWith('NetworkPolicy/'))).toEqual([]);
    const policy = only<KubeObject & V1NetworkPolicy>('hardened', 'NetworkPolicy');
    const pods = only<V1Deployment>('hardened', 'Deployment').spec!.template.metadata!.labels;
    expect(matchesSelector(policy.spec?.podSelector?.matchLabels, pods)).toBe(true);
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec?.ingress).toEqual([
      {
        ports: [
          { port: 'metrics', protocol: 'TCP' },
          { port: 'health', protocol: 'TCP' },
        ],
        from: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }],
      },
    ]);
    expect(policy.spec?.egress).toEqual([
      { ports: [{ port: 6443, protocol: 'TCP' }], to: [{ ipBlock: { cidr: '10.0.0.1/32' } }] },
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
      },
      {
        ports: [
          { port: 5432, protocol: 'TCP' },
          { port: 6432, protocol: 'TCP' },
        ],
        to: [{ ipBlock: { cidr: '10.20.0.0/16' } }],
      },
    ]);
    // The container ports the ingress rule names are the operator's.
    const named = (operatorContainer('hardened').ports ?? []).map((p) => p.name);
    expect(named).toEqual(expect.arrayContaining(['metrics', 'health']));
  });

  it('lets namespace viewers read SchemaMigrations and editors change, approve and delete them, never their status, as config/rbac does', () => {
    const view = only<KubeObject & V1ClusterRole>('default', 'ClusterRole', 'schemaops-view');
    const edit = only<KubeObject & V1ClusterRole>('default', 'ClusterRole', 'schemaops-edit');
    const aggregation = (role: KubeObject) =>
      Object.entries(role.metadata.labels ?? {})
        .filter(([label]) => label.startsWith('rbac.authorization.k8s.io/'))
        .map(([label, value]) => `${label}=${value}`)
        .sort();
    expect(aggregation(view)).toEqual([
      'rbac.authorization.k8s.io/aggregate-to-admin=true',
      'rbac.authorization.k8s.io/aggregate-to-edit=true',
      'rbac.authorization.k8s.io/aggregate-to-view=true',
    ]);
    expect(aggregation(edit)).toEqual([
      'rbac.authorization.k8s.io/aggregate-to-admin=true',
      'rbac.authorization.k8s.io/aggregate-to-edit=true',
    ]);
    const granted = (role: V1ClusterRole) => (role.rules ?? []).flatMap(grants).sort();
    expect(granted(view)).toEqual([
      'schemaops.dev schemamigrations get',
      'schemaops.dev schemamigrations list',
      'schemaops.dev schemamigrations watch',
      'schemaops.dev schemamigrations/status get',
      'schemaops.dev schemamigrations/status list',
      'schemaops.dev schemamigrations/status watch',
    ]);
    expect(granted(edit)).toEqual([
      'schemaops.dev schemamigrations create',
      'schemaops.dev schemamigrations delete',
      'schemaops.dev schemamigrations deletecollection',
      'schemaops.dev schemamigrations patch',
      'schemaops.dev schemamigrations update',
    ]);
    expect(normaliseRules(view.rules ?? [])).toEqual(normaliseRules(kustomizeRules('view_role.yaml')));
    expect(normaliseRules(edit.rules ?? [])).toEqual(normaliseRules(kustomizeRules('edit_role.yaml')));
    const kustomized = (file: string) =>
      (parse(readFileSync(join(root, 'config/rbac', file), 'utf8')) as KubeObject).metadata.labels;
    expect(
      aggregation({ ...view, metadata: { name: 'view', labels: kustomized('view_role.yaml') } }),
    ).toEqual(aggregation(view));
    expect(
      aggregation({ ...edit, metadata: { name: 'edit', labels: kustomized('edit_role.yaml') } }),
    ).toEqual(aggregation(edit));
  });

  it('renders the Grafana dashboard as a ConfigMap the sidecar finds by label, only when asked', () => {
    expect(kinds('default').filter((k) => k.startsWith('ConfigMap/'))).toEqual([]);
    const configMap = only<KubeObject & V1ConfigMap>('hardened', 'ConfigMap', 'schemaops-dashboard');
    expect(configMap.metadata.namespace).toBe('monitoring');
    expect(configMap.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(configMap.data?.['schemaops.json'] ?? '') as { uid: string };
    expect(dashboard).toEqual(JSON.parse(readFileSync(join(CHART, 'files/dashboard.json'), 'utf8')));
    expect(dashboard.uid).toBe('schemaops');
  });
});

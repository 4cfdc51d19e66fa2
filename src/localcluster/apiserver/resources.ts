import type { JSONSchemaProps } from './schema.js';

/** Where a resource's scale subresource reads and writes its numbers (a CRD's `subresources.scale`). */
export interface ScaleSpec {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}

/** A column of `kubectl get` output (a CRD's `additionalPrinterColumns`). */
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

/** Everything the server needs to know to serve one resource. */
export interface ResourceType {
  group: string;
  /** Served versions, preferred first. */
  versions: string[];
  storageVersion: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  status: boolean;
  scale?: ScaleSpec;
  /** Served from a CRD: list items carry kind/apiVersion, strategic merge is refused. */
  custom: boolean;
  hasGeneration: boolean;
  requireResourceVersionOnUpdate: boolean;
  createOnUpdate: boolean;
  /** Deployments count annotation changes as spec changes. */
  generationOnAnnotations: boolean;
  /** The structural schema of a custom resource version. */
  schemas?: Record<string, JSONSchemaProps | undefined>;
  printerColumns?: Record<string, PrinterColumn[]>;
  /** A real server's default propagation policy when a DELETE names none. */
  defaultPropagation: 'Background' | 'Orphan';
  /** Extra subresources listed in discovery, e.g. pods/log. */
  extraSubresources?: { name: string; kind: string; verbs: string[] }[];
}

/** The resource types served at one group/version. */
export function servedAt(types: readonly ResourceType[], group: string, version: string): ResourceType[] {
  return types.filter((t) => t.group === group && t.versions.includes(version));
}

export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

interface BuiltinSpec {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced?: boolean;
  shortNames?: string[];
  categories?: string[];
  status?: boolean;
  scale?: boolean;
  hasGeneration?: boolean;
  requireRv?: boolean;
  createOnUpdate?: boolean;
  generationOnAnnotations?: boolean;
  defaultPropagation?: 'Background' | 'Orphan';
  extraSubresources?: ResourceType['extraSubresources'];
}

function builtin(spec: BuiltinSpec): ResourceType {
  const type: ResourceType = {
    group: spec.group,
    versions: [spec.version],
    storageVersion: spec.version,
    plural: spec.plural,
    singular: spec.kind.toLowerCase(),
    kind: spec.kind,
    listKind: `${spec.kind}List`,
    namespaced: spec.namespaced ?? true,
    shortNames: spec.shortNames ?? [],
    categories: spec.categories ?? [],
    status: spec.status ?? false,
    custom: false,
    hasGeneration: spec.hasGeneration ?? false,
    requireResourceVersionOnUpdate: spec.requireRv ?? false,
    createOnUpdate: spec.createOnUpdate ?? false,
    generationOnAnnotations: spec.generationOnAnnotations ?? false,
    defaultPropagation: spec.defaultPropagation ?? 'Background',
  };
  if (spec.scale) type.scale = { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' };
  if (spec.extraSubresources) type.extraSubresources = spec.extraSubresources;
  return type;
}

/** The built-in kinds this control plane serves. */
export function builtinResources(): ResourceType[] {
  return [
    builtin({
      group: '',
      version: 'v1',
      plural: 'namespaces',
      kind: 'Namespace',
      namespaced: false,
      shortNames: ['ns'],
      status: true,
    }),
    builtin({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] }),
    builtin({ group: '', version: 'v1', plural: 'secrets', kind: 'Secret' }),
    builtin({
      group: '',
      version: 'v1',
      plural: 'pods',
      kind: 'Pod',
      shortNames: ['po'],
      categories: ['all'],
      status: true,
      hasGeneration: true,
      extraSubresources: [{ name: 'log', kind: 'Pod', verbs: ['get'] }],
    }),
    builtin({
      group: '',
      version: 'v1',
      plural: 'persistentvolumeclaims',
      kind: 'PersistentVolumeClaim',
      shortNames: ['pvc'],
      status: true,
    }),
    builtin({ group: '', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'] }),
    builtin({
      group: '',
      version: 'v1',
      plural: 'serviceaccounts',
      kind: 'ServiceAccount',
      shortNames: ['sa'],
    }),
    builtin({
      group: 'apps',
      version: 'v1',
      plural: 'deployments',
      kind: 'Deployment',
      shortNames: ['deploy'],
      categories: ['all'],
      status: true,
      scale: true,
      hasGeneration: true,
      generationOnAnnotations: true,
    }),
    builtin({
      group: 'apps',
      version: 'v1',
      plural: 'statefulsets',
      kind: 'StatefulSet',
      shortNames: ['sts'],
      categories: ['all'],
      status: true,
      scale: true,
      hasGeneration: true,
    }),
    builtin({
      group: 'batch',
      version: 'v1',
      plural: 'jobs',
      kind: 'Job',
      categories: ['all'],
      status: true,
      hasGeneration: true,
      defaultPropagation: 'Orphan',
    }),
    builtin({
      group: 'coordination.k8s.io',
      version: 'v1',
      plural: 'leases',
      kind: 'Lease',
      requireRv: true,
      createOnUpdate: true,
    }),
    builtin({ group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'] }),
    // Stored only, so installs (charts, kustomize) apply as on a cluster; nothing enforces RBAC or routes Services.
    builtin({
      group: '',
      version: 'v1',
      plural: 'services',
      kind: 'Service',
      shortNames: ['svc'],
      status: true,
    }),
    ...(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'] as const).map((kind) =>
      builtin({
        group: 'rbac.authorization.k8s.io',
        version: 'v1',
        plural: `${kind.toLowerCase()}s`,
        kind,
        namespaced: !kind.startsWith('Cluster'),
      }),
    ),
    builtin({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      kind: 'CustomResourceDefinition',
      namespaced: false,
      shortNames: ['crd', 'crds'],
      status: true,
      hasGeneration: true,
      categories: ['api-extensions'],
    }),
  ];
}

/** Kubernetes' version priority: GA > beta > alpha, higher numbers first, then others by name. */
export function compareKubeVersions(a: string, b: string): number {
  const parse = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const stage = m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] as number) - (pb[i] as number);
    if (d !== 0) return d;
  }
  return pa[3].localeCompare(pb[3]);
}

import { apiVersionOf, compareKubeVersions, servedAt, type ResourceType } from './resources.js';

const mainVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const subresourceVerbs = ['get', 'patch', 'update'];

/** GET /version: a minor in the range the dispatching kubectl bundles. */
export function versionInfo(): Record<string, string> {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.4',
    gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
    gitTreeState: 'clean',
    buildDate: '2025-04-22T16:02:27Z',
    goVersion: 'go1.23.6',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

/** GET /api. */
export function coreVersions(address: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: address }],
  };
}

interface GroupVersion {
  groupVersion: string;
  version: string;
}

function groupVersions(types: ResourceType[], group: string): GroupVersion[] {
  const versions = new Set<string>();
  for (const type of types) if (type.group === group) type.versions.forEach((v) => versions.add(v));
  return [...versions]
    .sort(compareKubeVersions)
    .map((version) => ({ groupVersion: apiVersionOf(group, version), version }));
}

/** One APIGroup: its served versions with the preferred (kube-aware order) first. */
export function apiGroup(types: ResourceType[], group: string): Record<string, unknown> | undefined {
  const versions = groupVersions(types, group);
  if (versions.length === 0) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', name: group, versions, preferredVersion: versions[0] };
}

/** GET /apis: every named group. */
export function apiGroupList(types: ResourceType[]): Record<string, unknown> {
  const order = ['apps', 'events.k8s.io', 'batch', 'coordination.k8s.io', 'apiextensions.k8s.io'];
  const groups = [...new Set(types.map((t) => t.group).filter((g) => g !== ''))].sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a.localeCompare(b);
  });
  const list = groups
    .map((g) => apiGroup(types, g))
    .map((g) => {
      const rest = { ...g };
      delete rest.kind;
      delete rest.apiVersion;
      return rest;
    });
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: list };
}

function resourceEntries(type: ResourceType): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: type.plural,
    singularName: type.singular,
    namespaced: type.namespaced,
    kind: type.kind,
    verbs: mainVerbs,
  };
  if (type.shortNames.length > 0) main.shortNames = type.shortNames;
  if (type.categories.length > 0) main.categories = type.categories;
  // The main resource comes before its subresources: clients take the first entry of a kind.
  const entries: Record<string, unknown>[] = [main];
  if (type.status) {
    entries.push({
      name: `${type.plural}/status`,
      singularName: '',
      namespaced: type.namespaced,
      kind: type.kind,
      verbs: subresourceVerbs,
    });
  }
  if (type.scale) {
    entries.push({
      name: `${type.plural}/scale`,
      singularName: '',
      namespaced: type.namespaced,
      group: 'autoscaling',
      version: 'v1',
      kind: 'Scale',
      verbs: subresourceVerbs,
    });
  }
  for (const extra of type.extraSubresources ?? []) {
    entries.push({
      name: `${type.plural}/${extra.name}`,
      singularName: '',
      namespaced: type.namespaced,
      kind: extra.kind,
      verbs: extra.verbs,
    });
  }
  return entries;
}

/** GET /api/v1 or /apis/<group>/<version>. */
export function apiResourceList(
  types: ResourceType[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const served = servedAt(types, group, version);
  if (served.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf(group, version),
    resources: served.flatMap(resourceEntries),
  };
}

import type { Registry } from './registry.js';

/** Where a request under /api or /apis points. */
export type ApiRoute =
  | { kind: 'groupList' }
  | { kind: 'coreVersions' }
  | { kind: 'group'; group: string }
  | { kind: 'resourceList'; group: string; version: string }
  | {
      kind: 'resource';
      group: string;
      version: string;
      namespace: string | undefined;
      resource: string;
      name: string | undefined;
      subresource: string | undefined;
      legacyWatch: boolean;
    }
  | { kind: 'notFound' };

function resourceRoute(registry: Registry, group: string, version: string, rest: string[]): ApiRoute {
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const candidate = registry.findType(group, version, rest[2] ?? '');
    if (candidate?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
  }
  if (rest.length === 0 || rest.length > 3) return { kind: 'notFound' };
  return {
    kind: 'resource',
    group,
    version,
    namespace,
    resource: rest[0] ?? '',
    name: rest[1],
    subresource: rest[2],
    legacyWatch,
  };
}

/** Splits an API path into discovery or resource parts. */
export function parseApiPath(registry: Registry, pathname: string): ApiRoute {
  const parts = pathname
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  if (parts[0] === 'api') {
    if (parts.length === 1) return { kind: 'coreVersions' };
    if (parts[1] !== 'v1') return { kind: 'notFound' };
    if (parts.length === 2) return { kind: 'resourceList', group: '', version: 'v1' };
    return resourceRoute(registry, '', 'v1', parts.slice(2));
  }
  if (parts[0] === 'apis') {
    if (parts.length === 1) return { kind: 'groupList' };
    const group = parts[1] ?? '';
    if (parts.length === 2) return { kind: 'group', group };
    const version = parts[2] ?? '';
    if (parts.length === 3) return { kind: 'resourceList', group, version };
    return resourceRoute(registry, group, version, parts.slice(3));
  }
  return { kind: 'notFound' };
}

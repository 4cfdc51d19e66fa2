import { createHash } from 'node:crypto';
import { servedAt, type ResourceType } from './resources.js';

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function groupVersions(types: ResourceType[]): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const type of types)
    for (const version of type.versions)
      seen.set(gvPath(type.group, version), { group: type.group, version });
  return [...seen.values()];
}

/**
 * The OpenAPI v3 document of one group/version. It carries no schemas: only a PATCH operation per kind
 * tagged with its group/version/kind and offering `fieldValidation`, which is what kubectl checks to
 * leave validation to the server.
 */
export function openApiDocument(
  types: ResourceType[],
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const served = servedAt(types, group, version);
  if (served.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const prefix = `/${gvPath(group, version)}`;
  for (const type of served) {
    const path = type.namespaced
      ? `${prefix}/namespaces/{namespace}/${type.plural}/{name}`
      : `${prefix}/${type.plural}/{name}`;
    const gvk = { group, version, kind: type.kind };
    paths[path] = {
      get: {
        operationId: `read${type.kind}`,
        'x-kubernetes-action': 'get',
        'x-kubernetes-group-version-kind': gvk,
      },
      patch: {
        operationId: `patch${type.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
        })),
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.4' },
    paths,
    components: { schemas: {} },
  };
}

function hashOf(types: ResourceType[], group: string, version: string): string {
  const doc = JSON.stringify(openApiDocument(types, group, version));
  return createHash('sha512').update(doc).digest('hex').slice(0, 128).toUpperCase();
}

/** GET /openapi/v3: where each group/version's document lives, with a content hash for client caches. */
export function openApiRoot(types: ResourceType[]): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const { group, version } of groupVersions(types)) {
    const path = gvPath(group, version);
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hashOf(types, group, version)}` };
  }
  return { paths };
}

/** Parses `/openapi/v3/api/v1` or `/openapi/v3/apis/<g>/<v>` into group and version. */
export function parseOpenApiPath(rest: string[]): { group: string; version: string } | undefined {
  if (rest[0] === 'api' && rest.length === 2) return { group: '', version: rest[1] ?? '' };
  if (rest[0] === 'apis' && rest.length === 3) return { group: rest[1] ?? '', version: rest[2] ?? '' };
  return undefined;
}

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ApiError, badRequest, methodNotAllowed, notFound } from './errors.js';
import { applyJsonPatch, mergePatch, strategicMerge } from './patch.js';
import {
  parseJson,
  patchTypeOf,
  type FieldValidation,
  type Registry,
  type WriteOptions,
} from './registry.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { decodeWriteBody, readBody, sendJson, sendText, wantsTable } from './request.js';
import { applyScale, toScale } from './scale.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { toTable } from './table.js';
import { collectionKey, isRecord, type KubeObject } from './types.js';
import { WatchStream, type WatchSettings } from './watch.js';

/** One request for a resource, parsed. */
export interface ResourceCall {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  type: ResourceType;
  version: string;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  legacyWatch: boolean;
}

export interface HandlerContext {
  registry: Registry;
  watches: Set<WatchStream>;
  watchSettings: WatchSettings;
  /** Where the Job controller leaves each pod's output, as `<namespace>/<pod>.log`. */
  logDir: string | undefined;
}

const jobOrphanWarning =
  'child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning';

function fieldValidation(query: URLSearchParams): FieldValidation {
  const value = query.get('fieldValidation') ?? 'Warn';
  if (value !== 'Ignore' && value !== 'Warn' && value !== 'Strict') {
    throw badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got "${value}"`);
  }
  return value;
}

function writeOptions(call: ResourceCall, warnings: string[], isApply = false): WriteOptions {
  const dryRun = call.query.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All'))
    throw badRequest(`dryRun: Unsupported value: "${dryRun.join(',')}": supported values: "All"`);
  const userAgent = (call.req.headers['user-agent'] ?? 'unknown').split('/')[0] ?? 'unknown';
  const explicit = call.query.get('fieldManager') ?? undefined;
  return {
    version: call.version,
    manager: explicit ?? (isApply ? '' : userAgent),
    dryRun: dryRun.length > 0,
    fieldValidation: fieldValidation(call.query),
    warnings,
    force: call.query.get('force') === 'true',
  };
}

function listMeta(registry: Registry, continueToken?: string): Record<string, unknown> {
  const meta: Record<string, unknown> = { resourceVersion: String(registry.store.currentRv()) };
  if (continueToken) meta.continue = continueToken;
  return meta;
}

function paginate(
  objects: KubeObject[],
  query: URLSearchParams,
): { page: KubeObject[]; next?: string; remaining?: number } {
  let offset = 0;
  const token = query.get('continue');
  if (token) {
    try {
      offset = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset: number }).offset;
    } catch {
      throw badRequest('continue key is not valid: illegal base64 data');
    }
  }
  const limit = Number(query.get('limit') ?? '0');
  if (!(limit > 0) || offset + limit >= objects.length) return { page: objects.slice(offset) };
  const next = Buffer.from(JSON.stringify({ offset: offset + limit })).toString('base64url');
  return { page: objects.slice(offset, offset + limit), next, remaining: objects.length - offset - limit };
}

function collection(type: ResourceType): string {
  return collectionKey({ group: type.group, resource: type.plural });
}

function handleList(ctx: HandlerContext, call: ResourceCall): void {
  const labels = parseLabelSelector(call.query.get('labelSelector'));
  const fields = parseFieldSelector(call.query.get('fieldSelector'), collection(call.type));
  const all = ctx.registry
    .list(call.type, call.namespace, labels, fields)
    .map((o) => ctx.registry.present(call.type, o, call.version));
  const { page, next, remaining } = paginate(all, call.query);
  if (wantsTable(call.req.headers.accept)) {
    const options: Parameters<typeof toTable>[3] = {
      resourceVersion: String(ctx.registry.store.currentRv()),
      includeObject: call.query.get('includeObject') ?? 'Metadata',
    };
    if (next) options.continueToken = next;
    sendJson(call.res, 200, toTable(call.type, call.version, page, options));
    return;
  }
  const items = call.type.custom
    ? page
    : page.map((o) => {
        const item: Record<string, unknown> = { ...o };
        delete item.kind;
        delete item.apiVersion;
        return item;
      });
  const metadata = listMeta(ctx.registry, next);
  if (remaining !== undefined) metadata.remainingItemCount = remaining;
  sendJson(call.res, 200, {
    kind: call.type.listKind,
    apiVersion: apiVersionOf(call.type.group, call.version),
    metadata,
    items,
  });
}

function handleWatch(ctx: HandlerContext, call: ResourceCall): void {
  const fields = parseFieldSelector(call.query.get('fieldSelector'), collection(call.type));
  if (call.name) fields.push({ field: 'metadata.name', value: call.name, negate: false });
  const timeout = call.query.get('timeoutSeconds');
  const stream = new WatchStream(
    ctx.registry,
    {
      type: call.type,
      version: call.version,
      namespace: call.namespace,
      labels: parseLabelSelector(call.query.get('labelSelector')),
      fields,
      resourceVersion: call.query.get('resourceVersion') ?? undefined,
      allowBookmarks: call.query.get('allowWatchBookmarks') === 'true',
      sendInitialEvents: call.query.get('sendInitialEvents') === 'true',
      timeoutSeconds: timeout === null ? undefined : Number(timeout),
      table: wantsTable(call.req.headers.accept)
        ? (call.query.get('includeObject') ?? 'Metadata')
        : undefined,
    },
    call.res,
    (s) => ctx.watches.delete(s),
  );
  ctx.watches.add(stream);
  stream.start(call.req, ctx.watchSettings);
}

function sendObject(
  ctx: HandlerContext,
  call: ResourceCall,
  reply: { code: number; object: KubeObject; warnings?: string[] },
): void {
  const { code, object, warnings = [] } = reply;
  const presented = ctx.registry.present(call.type, object, call.version);
  if (wantsTable(call.req.headers.accept)) {
    const table = toTable(call.type, call.version, [presented], {
      resourceVersion: object.metadata.resourceVersion ?? '',
      includeObject: call.query.get('includeObject') ?? 'Metadata',
    });
    sendJson(call.res, code, table, warnings);
    return;
  }
  sendJson(call.res, code, presented, warnings);
}

function target(call: ResourceCall): { namespace: string | undefined; name: string; subresource?: 'status' } {
  const t: { namespace: string | undefined; name: string; subresource?: 'status' } = {
    namespace: call.namespace,
    name: call.name ?? '',
  };
  if (call.subresource === 'status') t.subresource = 'status';
  return t;
}

async function handleScale(ctx: HandlerContext, call: ResourceCall): Promise<void> {
  const { registry } = ctx;
  const object = registry.get(call.type, call.namespace, call.name ?? '');
  const method = call.req.method ?? 'GET';
  if (method === 'GET') {
    sendJson(call.res, 200, toScale(call.type, object));
    return;
  }
  const body = await readBody(call.req);
  const warnings: string[] = [];
  let scale: unknown;
  if (method === 'PUT') {
    scale = decodeWriteBody(call.req.headers['content-type'], body);
  } else if (method === 'PATCH') {
    const kind = patchTypeOf(call.req.headers['content-type'] ?? '');
    const current = toScale(call.type, object);
    const patch = parseJson(body.toString('utf8'));
    if (kind === 'json') scale = applyJsonPatch(current, patch);
    else if (kind === 'merge') scale = mergePatch(current, patch);
    else if (kind === 'strategic') scale = strategicMerge(current, patch);
    else
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        'apply patches are not supported on the scale subresource here',
      );
  } else {
    throw methodNotAllowed();
  }
  const next = applyScale(call.type, object, scale);
  const result = registry.update(
    call.type,
    { namespace: call.namespace, name: call.name ?? '' },
    next,
    writeOptions(call, warnings),
  );
  sendJson(call.res, 200, toScale(call.type, result.object), warnings);
}

function handlePodLog(ctx: HandlerContext, call: ResourceCall): void {
  ctx.registry.get(call.type, call.namespace, call.name ?? '');
  let text = '';
  if (ctx.logDir) {
    try {
      text = readFileSync(join(ctx.logDir, call.namespace ?? '', `${call.name ?? ''}.log`), 'utf8');
    } catch {
      text = '';
    }
  }
  const tail = Number(call.query.get('tailLines') ?? '-1');
  if (tail >= 0)
    text = text
      .split('\n')
      .slice(-tail - 1)
      .join('\n');
  sendText(call.res, 200, text);
}

function deleteOptionsFrom(call: ResourceCall, body: string): Record<string, unknown> {
  const options: Record<string, unknown> =
    body.trim() === '' ? {} : (parseJson(body) as Record<string, unknown>);
  if (!isRecord(options)) throw badRequest('DeleteOptions must be an object');
  const policy = call.query.get('propagationPolicy');
  if (policy) options.propagationPolicy = policy;
  const orphan = call.query.get('orphanDependents');
  if (orphan) options.orphanDependents = orphan === 'true';
  return options;
}

async function handleDelete(ctx: HandlerContext, call: ResourceCall): Promise<void> {
  const options = deleteOptionsFrom(call, (await readBody(call.req)).toString('utf8'));
  const warnings: string[] = [];
  const isJob = call.type.group === 'batch' && call.type.plural === 'jobs';
  if (isJob && options.propagationPolicy === undefined && options.orphanDependents === undefined)
    warnings.push(jobOrphanWarning);
  const write = writeOptions(call, warnings);
  if (!call.name) {
    const labels = parseLabelSelector(call.query.get('labelSelector'));
    const fields = parseFieldSelector(call.query.get('fieldSelector'), collection(call.type));
    for (const object of ctx.registry.list(call.type, call.namespace, labels, fields)) {
      ctx.registry.delete(
        call.type,
        { namespace: call.namespace, name: object.metadata.name ?? '' },
        options,
        write,
      );
    }
    sendJson(call.res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' }, warnings);
    return;
  }
  const result = ctx.registry.delete(
    call.type,
    { namespace: call.namespace, name: call.name },
    options,
    write,
  );
  if (result.pending) {
    sendObject(ctx, call, { code: 200, object: result.pending, warnings });
    return;
  }
  const gone = result.deleted;
  const details: Record<string, unknown> = {
    name: call.name,
    kind: call.type.plural,
    uid: gone?.metadata.uid,
  };
  if (call.type.group !== '') details.group = call.type.group;
  sendJson(
    call.res,
    200,
    { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details },
    warnings,
  );
}

async function handleWrite(ctx: HandlerContext, call: ResourceCall, method: string): Promise<void> {
  const body = await readBody(call.req);
  const warnings: string[] = [];
  const contentType = call.req.headers['content-type'];
  if (method === 'POST') {
    if (call.name) throw methodNotAllowed();
    const created = ctx.registry.create(
      call.type,
      call.namespace,
      decodeWriteBody(contentType, body),
      writeOptions(call, warnings),
    );
    sendObject(ctx, call, { code: 201, object: created, warnings });
    return;
  }
  if (!call.name) throw methodNotAllowed();
  if (method === 'PUT') {
    const result = ctx.registry.update(
      call.type,
      target(call),
      decodeWriteBody(contentType, body),
      writeOptions(call, warnings),
    );
    sendObject(ctx, call, { code: result.created ? 201 : 200, object: result.object, warnings });
    return;
  }
  const kind = patchTypeOf(contentType ?? '');
  const patch = { type: kind, body: body.toString('utf8') };
  const result = ctx.registry.patch(
    call.type,
    target(call),
    patch,
    writeOptions(call, warnings, kind === 'apply'),
  );
  sendObject(ctx, call, { code: result.created ? 201 : 200, object: result.object, warnings });
}

function checkSubresource(call: ResourceCall): void {
  const sub = call.subresource;
  if (sub === undefined) return;
  const ok =
    (sub === 'status' && call.type.status) ||
    (sub === 'scale' && call.type.scale !== undefined) ||
    (call.type.extraSubresources ?? []).some((e) => e.name === sub);
  if (!ok) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

function handleRead(ctx: HandlerContext, call: ResourceCall, watch: boolean): void {
  if (watch) return handleWatch(ctx, call);
  if (!call.name) return handleList(ctx, call);
  sendObject(ctx, call, { code: 200, object: ctx.registry.get(call.type, call.namespace, call.name) });
}

/** Serves one resource request: list, watch, get, create, update, patch, delete and subresources. */
export async function handleResource(ctx: HandlerContext, call: ResourceCall): Promise<void> {
  const method = call.req.method ?? 'GET';
  checkSubresource(call);
  if (call.type.namespaced && call.name !== undefined && call.namespace === undefined) {
    throw notFound(call.type.group, call.type.plural, call.name);
  }
  const watch = call.legacyWatch || call.query.get('watch') === 'true' || call.query.get('watch') === '1';
  if (call.subresource === 'scale') return handleScale(ctx, call);
  if (call.subresource === 'log') return handlePodLog(ctx, call);
  if (method === 'GET') return handleRead(ctx, call, watch);
  if (method === 'DELETE') return handleDelete(ctx, call);
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') return handleWrite(ctx, call, method);
  throw methodNotAllowed();
}

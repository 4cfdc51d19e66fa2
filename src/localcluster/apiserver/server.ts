import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { apiGroup, apiGroupList, apiResourceList, coreVersions, versionInfo } from './discovery.js';
import { ApiError, internalError } from './errors.js';
import { FaultPlan, type FaultInjector } from './faults.js';
import { handleResource, type HandlerContext } from './handlers.js';
import { openApiDocument, openApiRoot, parseOpenApiPath } from './openapi.js';
import { Registry } from './registry.js';
import { readBody, sendJson, sendStatus, sendText } from './request.js';
import { parseApiPath } from './routes.js';
import { ObjectStore } from './store.js';
import type { WatchStream } from './watch.js';

export interface ApiServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Where pod logs are read from for `pods/log`. */
  logDir?: string;
  /** Interval of BOOKMARK events on watches that allow them. */
  bookmarkIntervalMs?: number;
  /** Watch length when the client sets no timeoutSeconds. */
  defaultWatchTimeoutSeconds?: number;
  historyLimit?: number;
}

/** Where the control API lives: outside every Kubernetes path. */
export const controlPrefix = '/_schemaops/faults';

const failSchema = z.object({
  path: z.string().min(1),
  status: z.number().int().min(400).max(599),
  count: z.number().int().positive().optional(),
  method: z.string().optional(),
  message: z.string().optional(),
});
const delaySchema = z.object({
  ms: z.number().min(0),
  path: z.string().optional(),
  method: z.string().optional(),
  count: z.number().int().positive().optional(),
});

/** The in-process Kubernetes API server. */
export class ApiServer {
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly faults: FaultInjector;
  private readonly plan = new FaultPlan();
  private readonly watches = new Set<WatchStream>();
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private readonly options: ApiServerOptions;
  private readonly context: HandlerContext;

  constructor(options: ApiServerOptions = {}) {
    this.options = options;
    const storeOptions = options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit };
    this.store = new ObjectStore(storeOptions);
    this.registry = new Registry(this.store);
    this.context = {
      registry: this.registry,
      watches: this.watches,
      watchSettings: {
        bookmarkIntervalMs: options.bookmarkIntervalMs ?? 5000,
        defaultTimeoutSeconds: options.defaultWatchTimeoutSeconds ?? 1800,
      },
      logDir: options.logDir,
    };
    this.faults = {
      cutWatches: () => this.cutWatches(),
      expireResourceVersions: () => this.store.expireHistory(),
      failNext: (rule) => this.plan.addFailure(rule),
      delay: (rule) => this.plan.addDelay(rule),
      clear: () => this.plan.clear(),
    };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts listening; resolves with the port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Ends every watch and connection and stops listening. */
  async close(): Promise<void> {
    this.cutWatches();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private cutWatches(): number {
    const open = [...this.watches];
    for (const watch of open) watch.close();
    return open.length;
  }

  private address(): string {
    const address = this.server.address() as AddressInfo | null;
    return address ? `${address.address}:${address.port}` : '127.0.0.1:0';
  }

  private fail(res: ServerResponse, err: unknown): void {
    const error =
      err instanceof ApiError ? err : internalError(err instanceof Error ? err.message : String(err));
    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    sendStatus(res, error.toStatus());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path.startsWith(controlPrefix)) return this.handleControl(req, res, path.slice(controlPrefix.length));
    const fault = this.plan.take(req.method ?? 'GET', path);
    if (fault.delayMs > 0) await sleep(fault.delayMs);
    if (fault.error) throw fault.error;
    if (this.handleFixed(res, path)) return;
    if (path.startsWith('/openapi/v3')) return this.handleOpenApi(res, path);
    return this.handleApi(req, res, url);
  }

  private handleFixed(res: ServerResponse, path: string): boolean {
    if (path === '/version' || path === '/version/') {
      sendJson(res, 200, versionInfo());
      return true;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      sendText(res, 200, 'ok');
      return true;
    }
    return false;
  }

  private handleOpenApi(res: ServerResponse, path: string): void {
    const types = this.registry.allTypes();
    const rest = path
      .split('/')
      .filter((p) => p !== '')
      .slice(2);
    if (rest.length === 0) {
      sendJson(res, 200, openApiRoot(types));
      return;
    }
    const gv = parseOpenApiPath(rest);
    const doc = gv ? openApiDocument(types, gv.group, gv.version) : undefined;
    if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    sendJson(res, 200, doc);
  }

  private async handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = parseApiPath(this.registry, url.pathname);
    const types = this.registry.allTypes();
    const notFound = new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (route.kind === 'resource') {
      const type = this.registry.findType(route.group, route.version, route.resource);
      if (!type) throw notFound;
      await handleResource(this.context, { req, res, query: url.searchParams, type, ...route });
      return;
    }
    let body: unknown;
    if (route.kind === 'coreVersions') body = coreVersions(this.address());
    else if (route.kind === 'groupList') body = apiGroupList(types);
    else if (route.kind === 'group') body = apiGroup(types, route.group);
    else if (route.kind === 'resourceList') body = apiResourceList(types, route.group, route.version);
    if (body === undefined) throw notFound;
    sendJson(res, 200, body);
  }

  private async handleControl(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const text = (await readBody(req)).toString('utf8');
    try {
      const body: unknown = text.trim() === '' ? {} : JSON.parse(text);
      sendJson(res, 200, this.control(`${req.method ?? 'GET'} ${path === '' ? '/' : path}`, body));
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const message =
        err instanceof z.ZodError ? z.prettifyError(err) : err instanceof Error ? err.message : String(err);
      throw new ApiError(400, 'BadRequest', message);
    }
  }

  /** The control API: `METHOD /path` under the control prefix. */
  private control(route: string, body: unknown): Record<string, unknown> {
    switch (route) {
      case 'DELETE /':
        this.faults.clear();
        break;
      case 'POST /cut-watches':
        return { cut: this.faults.cutWatches() };
      case 'POST /expire':
        this.faults.expireResourceVersions();
        break;
      case 'POST /fail':
        this.faults.failNext(failSchema.parse(body));
        break;
      case 'POST /delay':
        this.faults.delay(delaySchema.parse(body));
        break;
      default:
        throw new ApiError(404, 'NotFound', `no control endpoint ${route} under ${controlPrefix}`);
    }
    return { ok: true };
  }
}

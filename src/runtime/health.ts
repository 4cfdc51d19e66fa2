import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** Where to listen; an empty host means every interface. */
export interface ListenAddress {
  host: string;
  port: number;
}

export interface HttpServersOptions {
  metricsAddr: string;
  healthAddr: string;
  registry: Registry;
  isReady: () => boolean;
  isLive?: () => boolean;
  log: Logger;
}

export interface HttpServers {
  metricsPort: number;
  healthPort: number;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  contentType: string;
  body: string;
}

type Route = () => Reply | Promise<Reply>;

const hostPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** Parses ":8080", "127.0.0.1:8080", "[::1]:8080" or a bare port; throws naming the value otherwise. */
export function parseListenAddress(text: string): ListenAddress {
  const bad = (why: string): Error => new Error(`invalid listen address ${JSON.stringify(text)}: ${why}`);
  const colon = text.lastIndexOf(':');
  const rawHost = colon < 0 ? '' : text.slice(0, colon);
  const rawPort = colon < 0 ? text : text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(rawPort)) throw bad('the port must be a number from 0 to 65535');
  const port = Number(rawPort);
  if (port > 65535) throw bad('the port must be a number from 0 to 65535');
  if (rawHost !== '' && !hostPattern.test(rawHost)) throw bad('the host must be a name or an IP address');
  return { host: rawHost.replace(/^\[(.*)\]$/, '$1'), port };
}

function text(status: number, body: string): Reply {
  return { status, contentType: 'text/plain; charset=utf-8', body };
}

async function serve(routes: ReadonlyMap<string, Route>, req: IncomingMessage, res: ServerResponse) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const route = routes.get(path);
  let reply: Reply;
  if (!route) reply = text(404, 'not found\n');
  else if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    reply = text(405, 'method not allowed\n');
  } else reply = await route();
  res.writeHead(reply.status, { 'Content-Type': reply.contentType });
  res.end(req.method === 'HEAD' ? undefined : reply.body);
}

function listen(address: ListenAddress, routes: ReadonlyMap<string, Route>, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    serve(routes, req, res).catch((err: unknown) => {
      log.error({ err, path: req.url }, 'http handler failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, 'http server error'));
      resolve(server);
    };
    if (address.host === '') server.listen(address.port, ready);
    else server.listen(address.port, address.host, ready);
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Keep-alive connections from scrapers would otherwise hold close() open.
    server.closeAllConnections();
  });
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** Serves /metrics on metricsAddr and /healthz, /readyz on healthAddr; one server when they are equal. */
export async function startHttpServers(options: HttpServersOptions): Promise<HttpServers> {
  const { registry, isReady, log } = options;
  const isLive = options.isLive ?? (() => true);
  const metricsAddress = parseListenAddress(options.metricsAddr);
  const healthAddress = parseListenAddress(options.healthAddr);
  const metricsRoutes = new Map<string, Route>([
    [
      '/metrics',
      async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    ],
  ]);
  const healthRoutes = new Map<string, Route>([
    ['/healthz', () => (isLive() ? text(200, 'ok') : text(503, 'not live'))],
    ['/readyz', () => (isReady() ? text(200, 'ok') : text(503, 'not ready'))],
  ]);
  const shared = metricsAddress.host === healthAddress.host && metricsAddress.port === healthAddress.port;
  if (shared) {
    const server = await listen(metricsAddress, new Map([...metricsRoutes, ...healthRoutes]), log);
    const port = portOf(server);
    log.info({ port }, 'serving metrics and health probes');
    return { metricsPort: port, healthPort: port, close: () => close(server) };
  }
  const metricsServer = await listen(metricsAddress, metricsRoutes, log);
  let healthServer: Server;
  try {
    healthServer = await listen(healthAddress, healthRoutes, log);
  } catch (err) {
    await close(metricsServer);
    throw err;
  }
  const metricsPort = portOf(metricsServer);
  const healthPort = portOf(healthServer);
  log.info({ metricsPort, healthPort }, 'serving metrics and health probes');
  return {
    metricsPort,
    healthPort,
    close: async () => {
      await Promise.all([close(metricsServer), close(healthServer)]);
    },
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { reasonForCode } from '../../src/kube/status-reasons.js';
import {
  startLocalCluster,
  type LocalCluster,
  type LocalClusterOptions,
} from '../../src/localcluster/index.js';

/** Fail the next `count` requests whose path starts with `path` (and whose method matches, if given). */
export interface FailRule {
  path: string;
  status: number;
  count?: number;
  method?: string;
  /** Match the path exactly (an object, not its /status subresource). */
  exact?: boolean;
}

/** Delay matching requests by `ms`; `count` limits how many (all when absent). */
export interface DelayRule {
  ms: number;
  path?: string;
  method?: string;
  count?: number;
  exact?: boolean;
}

/**
 * A plain-HTTP proxy in front of the real kube-apiserver that injects what a real network and a real
 * server do now and then: cut watches, 410 Gone for old resourceVersions, error answers, slow answers.
 * Clients reach it with their own bearer token, which it passes on.
 */
export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Ends every open watch stream, as kube-apiserver does when it times a watch out or restarts. Returns how many. */
  cutWatches(): number;
  /** Every resourceVersion handed out so far becomes too old: a watch from one gets 410 Expired. */
  expireResourceVersions(): Promise<void>;
  failNext(rule: FailRule): void;
  delay(rule: DelayRule): void;
  clear(): void;
  close(): Promise<void>;
}

const MARKER_NAMESPACE = 'schemaops-fault-proxy';

interface Pending<T> {
  rule: T;
  remaining: number;
}

interface Matcher {
  path?: string;
  method?: string;
  exact?: boolean;
}

const matches = (rule: Matcher, method: string, path: string) =>
  (!rule.method || rule.method.toUpperCase() === method) &&
  (rule.path === undefined || (rule.exact ? path === rule.path : path.startsWith(rule.path)));

function take<T extends Matcher>(list: Pending<T>[], method: string, path: string) {
  const found = list.find((p) => matches(p.rule, method, path));
  if (found && --found.remaining <= 0) list.splice(list.indexOf(found), 1);
  return found?.rule;
}

function statusBody(code: number, message: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reasonForCode(code),
    code,
  };
}

/** Starts the proxy; `adminToken` lets it move the store's revision when told to expire versions. */
export async function startFaultProxy(upstream: string, ca: string, adminToken: string): Promise<FaultProxy> {
  const upstreamCall = <T>(method: string, path: string, body: unknown) =>
    new Promise<T>((resolve, reject) => {
      const headers = { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' };
      const req = request(`${upstream}${path}`, { method, headers, ca }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          (res.statusCode ?? 500) < 300
            ? resolve(JSON.parse(text) as T)
            : reject(new Error(`${method} ${path}: ${text}`)),
        );
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  const failures: Pending<FailRule>[] = [];
  const delays: Pending<DelayRule>[] = [];
  /** Open watches, each with how to end it: drop the upstream watch, then end the stream cleanly. */
  const watches = new Map<ServerResponse, () => void>();
  let expiredBelow = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, watch: boolean) => {
    const headers = { ...req.headers };
    delete headers.host;
    const upstreamReq = request(
      `${upstream}${req.url ?? '/'}`,
      { method: req.method, headers, ca },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        res.flushHeaders(); // a watch's headers must not wait for its first event
        upstreamRes.pipe(res);
      },
    );
    let ending = false;
    upstreamReq.on('error', () => {
      if (!ending) res.destroy();
    });
    res.on('error', () => undefined);
    res.on('close', () => {
      upstreamReq.destroy();
      watches.delete(res);
    });
    if (watch)
      watches.set(res, () => {
        ending = true;
        res.end();
        upstreamReq.destroy();
      });
    req.pipe(upstreamReq);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const method = (req.method ?? 'GET').toUpperCase();
      const url = new URL(req.url ?? '/', 'http://proxy');
      const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const delay = take(delays, method, url.pathname);
      if (delay) await sleep(delay.ms);
      // The client went away while its request was held (a killed operator): the request never arrives.
      if (delay && req.socket.destroyed) return;
      const failure = take(failures, method, url.pathname);
      if (failure) {
        const body = statusBody(
          failure.status,
          `injected failure (${failure.status}) for ${method} ${url.pathname}`,
        );
        res.writeHead(failure.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      const version = Number(url.searchParams.get('resourceVersion') ?? '0');
      if (watch && version > 0 && version < expiredBelow) {
        const gone = statusBody(410, `too old resource version: ${version} (${expiredBelow})`);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: { ...gone, reason: 'Expired' } })}\n`);
        return;
      }
      forward(req, res, watch);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    cutWatches() {
      const count = watches.size;
      for (const end of [...watches.values()]) end();
      watches.clear();
      return count;
    },
    async expireResourceVersions() {
      // A write moves the store past every version handed out so far; anything older is then gone. It goes to a
      // namespace of its own, so no client's watch sees it (and moves past it) before the cut that follows.
      await upstreamCall('POST', '/api/v1/namespaces', { metadata: { name: MARKER_NAMESPACE } }).catch(
        () => undefined,
      );
      const path = `/api/v1/namespaces/${MARKER_NAMESPACE}/configmaps`;
      const body = { metadata: { generateName: 'expire-' } };
      const created = await upstreamCall<{ metadata: { resourceVersion: string } }>('POST', path, body);
      expiredBelow = Number(created.metadata.resourceVersion);
    },
    failNext(rule) {
      failures.push({ rule, remaining: rule.count ?? 1 });
    },
    delay(rule) {
      delays.push({ rule, remaining: rule.count ?? Number.POSITIVE_INFINITY });
    },
    clear() {
      failures.length = 0;
      delays.length = 0;
      expiredBelow = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of watches.keys()) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A local cluster with a fault proxy in front; `url` and the kubeconfigs are the admin's, through the proxy. */
export interface ClusterWithFaults {
  readonly cluster: LocalCluster;
  readonly faults: FaultProxy;
  /** The proxy's URL (plain HTTP). */
  readonly url: string;
  readonly adminToken: string;
  kubeconfig(options?: { namespace?: string; token?: string }): string;
  writeKubeconfig(path: string, options?: { namespace?: string; token?: string }): void;
  stop(): Promise<void>;
}

export async function startClusterWithFaults(options: LocalClusterOptions = {}): Promise<ClusterWithFaults> {
  const cluster = await startLocalCluster(options);
  const faults = await startFaultProxy(cluster.url, cluster.caData, cluster.adminToken);
  return {
    cluster,
    faults,
    url: faults.url,
    adminToken: cluster.adminToken,
    kubeconfig: (o = {}) => cluster.kubeconfig({ ...o, server: faults.url }),
    writeKubeconfig: (path, o = {}) => cluster.writeKubeconfig(path, { ...o, server: faults.url }),
    stop: async () => {
      await faults.close();
      await cluster.stop();
    },
  };
}

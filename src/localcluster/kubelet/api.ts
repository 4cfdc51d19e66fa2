import { request, type RequestOptions } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';

/** A Kubernetes object as the kubelet reads it: plain JSON. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string }[];
  };
  [field: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number };
}

/** The few verbs the local kubelet needs, over HTTPS with a bearer token: no client library underneath. */
export class ApiConnection {
  private readonly server: string;
  private readonly ca: Buffer;
  private readonly token: string;

  constructor(server: string, ca: Buffer, token: string) {
    this.server = server;
    this.ca = ca;
    this.token = token;
  }

  private options(method: string, contentType?: string, payload?: string): RequestOptions {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: 'application/json',
    };
    if (contentType) headers['Content-Type'] = contentType;
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    return { method, ca: this.ca, headers, timeout: 30_000 };
  }

  /** One request; a status of 400 or more rejects with ApiError carrying the server's message. */
  async call<T = KubeObject>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        `${this.server}${path}`,
        this.options(method, payload ? contentType : undefined, payload),
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              let message = text;
              try {
                message = (JSON.parse(text) as { message?: string }).message ?? text;
              } catch {
                // not JSON
              }
              reject(new ApiError(status, `${method} ${path}: ${status} ${message}`));
            } else resolve((text === '' ? {} : JSON.parse(text)) as T);
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.end(payload);
    });
  }

  /** Streams watch events until the server ends the watch or `signal` aborts. */
  private watchOnce(
    path: string,
    resourceVersion: string,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${this.server}${path}${separator}watch=true&allowWatchBookmarks=true&resourceVersion=${resourceVersion}`;
    return new Promise((resolve, reject) => {
      const req = request(url, { ...this.options('GET'), timeout: 0, signal }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          reject(new ApiError(res.statusCode ?? 0, `watch ${path}: ${res.statusCode}`));
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let newline: number;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line) onEvent(JSON.parse(line) as WatchEvent);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * List, then watch from the list's resourceVersion, for as long as `signal` lives: a watch that ends is
   * resumed from the last version seen, a 410 Gone lists again, an error retries after a pause.
   */
  async listWatch(
    path: string,
    handler: (type: 'SYNC' | 'DELETED', object: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let resourceVersion: string | undefined;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const list = await this.call<{ metadata: { resourceVersion: string }; items: KubeObject[] }>(
            'GET',
            path,
          );
          for (const item of list.items) handler('SYNC', item);
          resourceVersion = list.metadata.resourceVersion;
        }
        await this.watchOnce(
          path,
          resourceVersion,
          (event) => {
            if (event.type === 'ERROR') {
              if (event.object.code === 410) resourceVersion = undefined;
              return;
            }
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type === 'BOOKMARK') return;
            handler(event.type === 'DELETED' ? 'DELETED' : 'SYNC', event.object);
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof ApiError && err.status === 410) resourceVersion = undefined;
        await sleep(500, undefined, { signal }).catch(() => undefined);
      }
    }
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function isConflictOrExists(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}

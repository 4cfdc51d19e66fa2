import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, expired } from './errors.js';
import type { Registry } from './registry.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, type FieldSelector, type LabelSelector } from './selectors.js';
import { toTable } from './table.js';
import { collectionKey, type ChangeEvent, type KubeObject } from './types.js';

export interface WatchRequest {
  type: ResourceType;
  version: string;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldSelector;
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | undefined;
  /** Set when the client asked for Table output: the includeObject policy. */
  table: string | undefined;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  defaultTimeoutSeconds: number;
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One open watch stream. */
export class WatchStream {
  private readonly request: WatchRequest;
  private readonly response: ServerResponse;
  private readonly registry: Registry;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private readonly onClose: (stream: WatchStream) => void;

  constructor(
    registry: Registry,
    request: WatchRequest,
    response: ServerResponse,
    onClose: (stream: WatchStream) => void,
  ) {
    this.registry = registry;
    this.request = request;
    this.response = response;
    this.onClose = onClose;
  }

  /** Starts the stream: initial or replayed events, then live changes until timeout, cut or client close. */
  start(incoming: IncomingMessage, settings: WatchSettings): void {
    const key = collectionKey({ group: this.request.type.group, resource: this.request.type.plural });
    const start = this.startingPoint(key);
    this.response.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    // Clients wait for the headers before they count the watch as open; send them now, not with the first event.
    this.response.flushHeaders();
    if (start === 'expired') {
      const rv = this.request.resourceVersion ?? '';
      const status = expired(
        `too old resource version: ${rv} (${this.registry.store.oldestRv()})`,
      ).toStatus();
      this.write('ERROR', status);
      this.close();
      return;
    }
    this.unsubscribe = this.registry.store.subscribe((event) => {
      if (event.key === key) this.deliver(event);
    });
    for (const event of start) this.deliver(event);
    if (this.request.sendInitialEvents) this.bookmark({ 'k8s.io/initial-events-end': 'true' });
    incoming.on('close', () => this.close());
    this.response.on('close', () => this.close());
    const timeout = (this.request.timeoutSeconds ?? settings.defaultTimeoutSeconds) * 1000;
    this.timers.push(setTimeout(() => this.close(), timeout));
    if (this.request.allowBookmarks) {
      this.timers.push(setInterval(() => this.bookmark(), settings.bookmarkIntervalMs));
    }
  }

  private startingPoint(key: string): ChangeEvent[] | 'expired' {
    const rv = this.request.resourceVersion;
    if (rv === undefined || rv === '' || rv === '0' || this.request.sendInitialEvents) {
      const current = this.registry.store.list(
        key,
        this.request.type.namespaced ? this.request.namespace : undefined,
      );
      return current.map((object) => ({
        type: 'ADDED',
        key,
        rv: Number(object.metadata.resourceVersion),
        object,
      }));
    }
    if (!/^\d+$/.test(rv)) throw badRequest(`invalid resource version: "${rv}"`);
    return this.registry.store.changesSince(key, Number(rv));
  }

  private matches(object: KubeObject | undefined): boolean {
    if (!object) return false;
    const { namespace, labels, fields, type } = this.request;
    if (type.namespaced && namespace !== undefined && object.metadata.namespace !== namespace) return false;
    return matchesLabels(object.metadata.labels, labels) && matchesFields(object, fields);
  }

  private deliver(event: ChangeEvent): void {
    if (this.closed) return;
    const now = this.matches(event.object);
    const before =
      event.type === 'ADDED' ? false : event.type === 'DELETED' ? now : this.matches(event.previous);
    if (event.type === 'DELETED') {
      if (now) this.writeObject('DELETED', event.object);
    } else if (now && before) {
      this.writeObject('MODIFIED', event.object);
    } else if (now) {
      this.writeObject('ADDED', event.object);
    } else if (before && event.previous) {
      // Leaving the selection reads as a deletion of the old object, at the change's resourceVersion.
      const left = {
        ...event.previous,
        metadata: { ...event.previous.metadata, resourceVersion: String(event.rv) },
      };
      this.writeObject('DELETED', left);
    }
  }

  private writeObject(type: WireType, object: KubeObject): void {
    const presented = this.registry.present(this.request.type, object, this.request.version);
    if (this.request.table !== undefined) {
      const table = toTable(this.request.type, this.request.version, [presented], {
        resourceVersion: object.metadata.resourceVersion ?? '',
        includeObject: this.request.table,
      });
      this.write(type, table);
      return;
    }
    this.write(type, presented);
  }

  private bookmark(annotations?: Record<string, string>): void {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.registry.store.currentRv()) };
    if (annotations) metadata.annotations = annotations;
    this.write('BOOKMARK', {
      kind: this.request.type.kind,
      apiVersion: apiVersionOf(this.request.type.group, this.request.version),
      metadata,
    });
  }

  private write(type: WireType, object: unknown): void {
    if (this.closed) return;
    this.response.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Ends the stream cleanly. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const timer of this.timers) clearTimeout(timer);
    if (!this.response.writableEnded) this.response.end();
    this.onClose(this);
  }
}

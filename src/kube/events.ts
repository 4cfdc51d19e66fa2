import { randomBytes } from 'node:crypto';
import {
  ApiException,
  EventsV1Api,
  V1MicroTime,
  type EventsV1Event,
  type KubeConfig,
} from '@kubernetes/client-node';
import { pino, type Logger } from 'pino';
import { redact } from '../redact.js';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid: string };
}

export interface EventDetails {
  type: 'Normal' | 'Warning';
  /** Why the action was taken, in UpperCamelCase (e.g. BackupSucceeded). */
  reason: string;
  /** What was done (e.g. Backup). */
  action: string;
  /** Human-readable detail; redacted and truncated before it is sent. */
  note: string;
}

/** Records events.k8s.io/v1 Events; best effort, so record() never rejects. */
export interface EventRecorder {
  record(object: EventSubject, event: EventDetails): Promise<void>;
}

export interface EventRecorderOptions {
  reportingController: string;
  reportingInstance: string;
  log?: Logger;
}

// Limits enforced by the API server's events.k8s.io/v1 validation.
const maxNoteBytes = 1024;
const maxFieldLength = 128;
const maxNameLength = 253;

/** Cuts text to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

function eventName(objectName: string): string {
  const suffix = randomBytes(8).toString('hex');
  return `${objectName.slice(0, maxNameLength - suffix.length - 1)}.${suffix}`;
}

/** Builds the Event body; pure apart from the name's randomness and the clock. */
export function buildEvent(
  object: EventSubject,
  event: EventDetails,
  reporter: { reportingController: string; reportingInstance: string },
): EventsV1Event {
  const { name, namespace, uid } = object.metadata;
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: eventName(name), namespace },
    // V1MicroTime serialises with the six fractional digits MicroTime requires.
    eventTime: new V1MicroTime(),
    type: event.type,
    reason: event.reason.slice(0, maxFieldLength),
    action: event.action.slice(0, maxFieldLength),
    // Redact before truncating so a cut cannot leave part of a password unmatched.
    note: truncateUtf8(redact(event.note), maxNoteBytes),
    reportingController: reporter.reportingController.slice(0, maxNameLength),
    reportingInstance: reporter.reportingInstance.slice(0, maxFieldLength),
    regarding: { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid },
  };
}

function describeFailure(err: unknown): { code?: number; error: string } {
  const message = err instanceof Error ? err.message : String(err);
  const error = redact(message).slice(0, 500);
  return err instanceof ApiException ? { code: err.code, error } : { error };
}

export function createEventRecorder(kc: KubeConfig, options: EventRecorderOptions): EventRecorder {
  const api = kc.makeApiClient(EventsV1Api);
  const log = options.log ?? pino({ enabled: false });
  return {
    async record(object, event) {
      let body: EventsV1Event | undefined;
      try {
        body = buildEvent(object, event, options);
        await api.createNamespacedEvent({ namespace: object.metadata.namespace, body });
      } catch (err) {
        log.debug(
          { ...describeFailure(err), event: body?.metadata?.name, reason: event.reason },
          'could not record event',
        );
      }
    },
  };
}

import { ApiException } from '@kubernetes/client-node';
import { KubeApiError } from './types.js';

/** Reasons the API server would put in a Status, for error bodies that carry none. */
const reasonByStatus: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function parseStatusBody(body: unknown): { reason?: string; message?: string } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const { reason, message } = parsed as Record<string, unknown>;
  return {
    ...(typeof reason === 'string' && reason !== '' ? { reason } : {}),
    ...(typeof message === 'string' && message !== '' ? { message } : {}),
  };
}

/**
 * Turns anything a call threw into a KubeApiError. The message comes from the Status only, never from the
 * library's own message, which embeds the response body and headers.
 */
export function toKubeApiError(err: unknown, what: string, sensitive = false): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = parseStatusBody(err.body);
    const reason = status.reason ?? reasonByStatus[err.code] ?? 'Unknown';
    return new KubeApiError(err.code, reason, status.message ?? `${what}: HTTP ${err.code}`);
  }
  // A parse error of a Secret's response could quote its data, so keep only the error's name.
  if (sensitive) return new KubeApiError(0, 'Unknown', `${what}: ${errorName(err)}`);
  const detail = err instanceof Error ? err.message : String(err);
  return new KubeApiError(0, 'Unknown', `${what}: ${detail}`, { cause: err });
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

export async function call<T>(what: string, request: () => Promise<T>, sensitive = false): Promise<T> {
  try {
    return await request();
  } catch (err) {
    throw toKubeApiError(err, what, sensitive);
  }
}

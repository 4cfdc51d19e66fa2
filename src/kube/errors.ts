import { ApiException } from '@kubernetes/client-node';
import { reasonForCode } from './status-reasons.js';
import { KubeApiError } from './types.js';

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
    const reason = status.reason ?? reasonForCode(err.code);
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

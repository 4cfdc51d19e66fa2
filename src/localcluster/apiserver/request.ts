import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest, type StatusBody } from './errors.js';
import { decodeKubernetesProtobuf } from './protobuf.js';
import { parseJson } from './registry.js';

const maxBodyBytes = 3 * 1024 * 1024;

/** Reads a request body as text, refusing bodies larger than a real server's 3 MiB limit. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBodyBytes)
      throw new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** Decodes a POST or PUT body by its Content-Type. */
export function decodeWriteBody(contentType: string | undefined, raw: Buffer): unknown {
  const media = (contentType ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/vnd.kubernetes.protobuf') return decodeKubernetesProtobuf(raw);
  const body = raw.toString('utf8');
  if (media === 'application/yaml' || media === 'application/x-yaml') {
    try {
      return parseYaml(body) as unknown;
    } catch (err) {
      throw badRequest(`error decoding YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (media === 'application/json' || media === '' || media === '*/*') return parseJson(body);
  throw new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${media})`,
  );
}

/** Whether the client's Accept header asks for meta.k8s.io Table output first among what we can serve. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [media, ...params] = part.split(';').map((p) => p.trim());
    const values = new Map(params.map((p) => p.split('=') as [string, string]));
    if (media === 'application/json' || media === '*/*' || media === 'application/*') {
      return values.get('as') === 'Table' && values.get('g') === 'meta.k8s.io';
    }
  }
  return false;
}

/** Every response carries Content-Type: application/json, including errors. */
export function sendJson(res: ServerResponse, code: number, body: unknown, warnings: string[] = []): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache, private',
  };
  if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

export function sendStatus(res: ServerResponse, status: StatusBody): void {
  sendJson(res, status.code, status);
}

export function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

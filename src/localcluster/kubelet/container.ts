import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from './api.js';

/** The Secrets, ConfigMaps and claim directories a pod refers to, read before its container starts. */
export interface PodSources {
  get(
    resource: 'secrets' | 'configmaps' | 'persistentvolumeclaims',
    namespace: string,
    name: string,
  ): KubeObject | undefined;
  /** The local directory of the volume bound to a claim. */
  claimDir(namespace: string, claim: string): string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON scalar as text; anything else (absent, an object) gives the fallback. */
export function text(value: unknown, fallback = ''): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return fallback;
}

/** Where a volume mount's path lands on this machine. */
export interface PathMapping {
  mountPath: string;
  localPath: string;
}

/** Everything needed to run a pod's first container as a local process. */
export interface LocalProcessSpec {
  command: string[];
  env: Record<string, string>;
  cwd: string | undefined;
  terminationMessageFile: string;
  terminationMessagePolicy: string;
}

/** Why a container could not start (a missing Secret key, no command): the attempt fails with this. */
export class ContainerConfigError extends Error {}

function rec(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map((v) => String(v)) : [];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces each mountPath, where it starts a path, by its local directory (longest mount first). */
export function rewritePaths(text: string, mappings: PathMapping[]): string {
  if (mappings.length === 0) return text;
  // One pass over all mounts (longest first), so a local directory put in never gets rewritten again.
  const byMount = new Map(mappings.map((m) => [m.mountPath.replace(/\/+$/, ''), m.localPath]));
  const alternatives = [...byMount.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(?<![\\w./-])(${alternatives.join('|')})(?=$|[^\\w.-])`, 'g');
  return text.replace(pattern, (mount: string) => byMount.get(mount) ?? mount);
}

/** Kubernetes' $(VAR) expansion in command, args and env values; $$ escapes. */
export function expandVariables(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}

function keyRef(
  access: PodSources,
  namespace: string,
  ref: Record<string, unknown>,
  resource: 'secrets' | 'configmaps',
): string | undefined {
  const name = text(ref.name, '');
  const key = text(ref.key, '');
  const object = access.get(resource, namespace, name);
  const raw = object ? rec(object.data)[key] : undefined;
  const value = text(raw);
  if (raw === undefined) {
    if (ref.optional === true) return undefined;
    const what = resource === 'secrets' ? 'secret' : 'configmap';
    throw new ContainerConfigError(
      object
        ? `couldn't find key ${key} in ${what[0]?.toUpperCase()}${what.slice(1)} ${namespace}/${name}`
        : `${what} "${name}" not found`,
    );
  }
  return resource === 'secrets' ? Buffer.from(value, 'base64').toString('utf8') : value;
}

function fieldRef(pod: KubeObject, ref: Record<string, unknown>): string {
  const path = text(ref.fieldPath, '');
  const values: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': text(rec(pod.spec).nodeName),
    'status.podIP': '127.0.0.1',
  };
  return values[path] ?? '';
}

/** Resolves a container's env: value, secretKeyRef, configMapKeyRef and fieldRef, in order, with $(VAR) expansion. */
export function resolveEnv(
  access: PodSources,
  pod: KubeObject,
  container: Record<string, unknown>,
  mappings: PathMapping[],
): Record<string, string> {
  const namespace = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {};
  for (const item of Array.isArray(container.env) ? (container.env as unknown[]) : []) {
    const entry = rec(item);
    const name = text(entry.name, '');
    const from = rec(entry.valueFrom);
    let value: string | undefined;
    if (typeof entry.value === 'string') value = expandVariables(entry.value, env);
    else if (isRecord(from.secretKeyRef)) value = keyRef(access, namespace, from.secretKeyRef, 'secrets');
    else if (isRecord(from.configMapKeyRef))
      value = keyRef(access, namespace, from.configMapKeyRef, 'configmaps');
    else if (isRecord(from.fieldRef)) value = fieldRef(pod, from.fieldRef);
    if (value !== undefined) env[name] = rewritePaths(value, mappings);
  }
  return env;
}

function writeKeys(dir: string, data: Record<string, unknown>, base64: boolean): void {
  mkdirSync(dir, { recursive: true });
  for (const [key, value] of Object.entries(data)) {
    writeFileSync(join(dir, key), base64 ? Buffer.from(text(value), 'base64') : text(value));
  }
}

/** Materialises one volume as a local directory. */
function volumeDirectory(
  access: PodSources,
  pod: KubeObject,
  volume: Record<string, unknown>,
  dirs: { podDir: string },
): string {
  const namespace = pod.metadata.namespace ?? 'default';
  const name = text(volume.name, '');
  const claim = rec(volume.persistentVolumeClaim);
  if (typeof claim.claimName === 'string') {
    if (!access.get('persistentvolumeclaims', namespace, claim.claimName)) {
      throw new ContainerConfigError(`persistentvolumeclaim "${claim.claimName}" not found`);
    }
    const dir = access.claimDir(namespace, claim.claimName);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  const dir = join(dirs.podDir, 'volumes', name);
  if (isRecord(volume.secret)) {
    const secret = access.get('secrets', namespace, text(volume.secret.secretName, ''));
    if (!secret) throw new ContainerConfigError(`secret "${text(volume.secret.secretName, '')}" not found`);
    writeKeys(dir, rec(secret.data), true);
  } else if (isRecord(volume.configMap)) {
    const configMap = access.get('configmaps', namespace, text(volume.configMap.name, ''));
    if (!configMap)
      throw new ContainerConfigError(`configmap "${text(volume.configMap.name, '')}" not found`);
    writeKeys(dir, rec(configMap.data), false);
  } else {
    mkdirSync(dir, { recursive: true });
  }
  return dir;
}

/** Maps every volume mount of the container to a local directory. */
export function mountMappings(
  access: PodSources,
  pod: KubeObject,
  container: Record<string, unknown>,
  dirs: { podDir: string },
): PathMapping[] {
  const volumes = (Array.isArray(rec(pod.spec).volumes) ? (rec(pod.spec).volumes as unknown[]) : []).map(rec);
  const mappings: PathMapping[] = [];
  for (const mount of (Array.isArray(container.volumeMounts)
    ? (container.volumeMounts as unknown[])
    : []
  ).map(rec)) {
    const volume = volumes.find((v) => v.name === mount.name);
    if (!volume) throw new ContainerConfigError(`volume "${text(mount.name, '')}" not found`);
    let local = volumeDirectory(access, pod, volume, dirs);
    if (typeof mount.subPath === 'string' && mount.subPath !== '') {
      local = join(local, mount.subPath);
      mkdirSync(local, { recursive: true });
    }
    mappings.push({ mountPath: text(mount.mountPath, ''), localPath: local });
  }
  return mappings;
}

/** Builds the local process for a pod's first container. */
export function localProcessSpec(
  access: PodSources,
  pod: KubeObject,
  dirs: { podDir: string },
): LocalProcessSpec {
  const container = rec((rec(pod.spec).containers as unknown[] | undefined)?.[0]);
  mkdirSync(dirs.podDir, { recursive: true });
  const terminationPath = text(container.terminationMessagePath, '/dev/termination-log');
  const terminationMessageFile = join(dirs.podDir, 'termination-log');
  writeFileSync(terminationMessageFile, '');
  const mappings = [
    ...mountMappings(access, pod, container, dirs),
    { mountPath: terminationPath, localPath: terminationMessageFile },
  ];
  const env = resolveEnv(access, pod, container, mappings);
  const command = [...strings(container.command), ...strings(container.args)].map((part) =>
    rewritePaths(expandVariables(part, env), mappings),
  );
  if (strings(container.command).length === 0) {
    throw new ContainerConfigError(
      'the container has no command: images are not run here, so spec.containers[0].command is required',
    );
  }
  const cwd =
    typeof container.workingDir === 'string' ? rewritePaths(container.workingDir, mappings) : undefined;
  const policy = text(container.terminationMessagePolicy, 'File');
  return { command, env, cwd, terminationMessageFile, terminationMessagePolicy: policy };
}

export interface ProcessOutcome {
  exitCode: number;
  signal: string | undefined;
  /** What a kubelet would put in the terminated state's message. */
  message: string;
  startedAt: string;
  finishedAt: string;
}

const maxMessageBytes = 4096;

function tailLines(text: string, lines: number, bytes: number): string {
  const tail = text.split('\n').slice(-lines).join('\n');
  return tail.length > bytes ? tail.slice(-bytes) : tail;
}

function readMessageFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(0, maxMessageBytes);
  } catch {
    return '';
  }
}

/** A started process: `done` settles when it exits; `kill` ends it and its children. */
export interface RunningProcess {
  done: Promise<ProcessOutcome>;
  kill(): void;
}

/** Runs the process with the host's PATH, writing its output to the log file. */
export function runLocalProcess(spec: LocalProcessSpec, logFile: string): RunningProcess {
  const startedAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const log = createWriteStream(logFile, { flags: 'a' });
  let output = '';
  const [file, ...args] = spec.command;
  const hostEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    LANG: process.env.LANG ?? 'C.UTF-8',
  };
  const child = spawn(file ?? 'false', args, {
    env: { ...hostEnv, ...spec.env },
    cwd: spec.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer): void => {
    log.write(chunk);
    output = (output + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const done = new Promise<ProcessOutcome>((resolve) => {
    const finish = (exitCode: number, signal: string | undefined): void => {
      log.end();
      let message = readMessageFile(spec.terminationMessageFile);
      if (message === '' && exitCode !== 0 && spec.terminationMessagePolicy === 'FallbackToLogsOnError') {
        message = tailLines(output, 80, 2048);
      }
      resolve({
        exitCode,
        signal,
        message,
        startedAt,
        finishedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    };
    child.on('error', (err) => {
      collect(Buffer.from(`${err.message}\n`));
      finish(127, undefined);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 137 : 1), signal ?? undefined));
  });
  const kill = (): void => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    setTimeout(() => {
      try {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 2000).unref();
  };
  return { done, kill };
}

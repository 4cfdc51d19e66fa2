import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Job } from '@kubernetes/client-node';

export function containerOf(job: V1Job): V1Container {
  return job.spec!.template.spec!.containers[0]!;
}

/** The container's literal env values, as the kubelet would set them. */
export function literalEnv(container: V1Container): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])),
  );
}

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The directory the connection files went to (it must be empty afterwards). */
  connectionDir: string;
}

/**
 * Runs a Job's container command as the kubelet would, on this machine: the backup volume is `backupDir`, the
 * termination message goes to `<backupDir>/termination-log`, and the URL comes through DATABASE_URL only.
 */
export function runJobScript(
  job: V1Job,
  options: { databaseUrl: string; backupDir: string; path?: string; env?: Record<string, string> },
): ScriptRun {
  const container = containerOf(job);
  const connectionDir = mkdtempSync(join(tmpdir(), 'schemaops-connection-'));
  const env = {
    PATH: options.path ?? process.env.PATH ?? '/usr/bin:/bin',
    ...literalEnv(container),
    ...options.env,
    BACKUP_DIR: options.backupDir,
    CONNECTION_DIR: connectionDir,
    DATABASE_URL: options.databaseUrl,
    TERMINATION_LOG: join(options.backupDir, 'termination-log'),
  };
  const [file, ...args] = container.command!;
  const result = spawnSync(file!, args, { env, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, connectionDir };
}

/**
 * A PATH of only logging wrappers around `programs`, so each program a script starts (its argv and environment)
 * is recorded to `<log>.<pid>`, and any other program is not found. Returns the directory and its cleanup.
 */
export function recordingPath(
  log: string,
  programs: readonly string[],
): { path: string; remove: () => void } {
  const bin = mkdtempSync(join(tmpdir(), 'schemaops-shims-'));
  const realPath = process.env.PATH ?? '/usr/bin:/bin';
  for (const program of programs) {
    const shim = [
      '#!/bin/sh',
      `PATH='${realPath}'`,
      // A file per process: programs of one pipeline run at once and would interleave their lines.
      `{ printf 'argv:'; printf ' %s' "$0" "$@"; printf '\\n'; env | sed 's/^/env: /'; } >> '${log}.'$$`,
      `exec ${program} "$@"`,
    ].join('\n');
    writeFileSync(join(bin, program), `${shim}\n`, { mode: 0o755 });
  }
  return { path: bin, remove: () => rmSync(bin, { recursive: true, force: true }) };
}

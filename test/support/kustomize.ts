import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** `kubectl kustomize DIR` (DIR relative to the repository), with a kubectl cache directory of its own. */
export function kustomize<T = Record<string, unknown>>(dir: string): T[] {
  const cache = mkdtempSync(join(tmpdir(), 'schemaops-kubecache-'));
  try {
    const result = spawnSync('kubectl', ['kustomize', join(root, dir)], {
      env: { ...process.env, KUBECACHEDIR: cache },
      encoding: 'utf8',
    });
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
    return parseAllDocuments(result.stdout).map((doc) => doc.toJSON() as T);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

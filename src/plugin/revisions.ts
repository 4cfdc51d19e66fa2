import type { V1ConfigMap } from '@kubernetes/client-node';
import { selectorString } from '../kube/client.js';
import { compareRevisions } from '../migrations/source.js';
import { PluginError } from './errors.js';
import type { PluginClient } from './kube.js';
import type { PluginSpec } from './spec.js';

const BASE = 'base';

/** The revisions a set of ConfigMaps holds (`<number>_<name>.sql` keys, text or binary), as node-pg-migrate sorts them. */
export function revisionsOf(configMaps: readonly V1ConfigMap[]): string[] {
  const keys = configMaps.flatMap((cm) => [
    ...Object.keys(cm.data ?? {}),
    ...Object.keys(cm.binaryData ?? {}),
  ]);
  const revisions = keys.filter((key) => key.endsWith('.sql')).map((key) => key.slice(0, -'.sql'.length));
  return [...new Set(revisions)].sort(compareRevisions);
}

/** `-N` from `current`: N migrations before it in `revisions` (sorted), or `base` when that is before the first. */
export function stepsBack(revisions: readonly string[], current: string, steps: number): string {
  if (current === BASE) throw new PluginError('nothing to roll back: the database is at base');
  const at = revisions.indexOf(current);
  if (at < 0)
    throw new PluginError(
      `the current revision ${current} is not among the migration files; give the revision itself: --to REV`,
    );
  const target = at - steps;
  if (target < -1)
    throw new PluginError(
      `cannot go back ${steps} migration(s) from ${current}: only ${at + 1} are applied (--to base goes back to none)`,
    );
  return target === -1 ? BASE : revisions[target]!;
}

/** The ConfigMaps spec.migrations names, by name or by selector. */
export async function migrationConfigMaps(client: PluginClient, spec: PluginSpec): Promise<V1ConfigMap[]> {
  const source = spec.migrations ?? {};
  if (source.selector !== undefined) {
    const selector = selectorString(source.selector);
    const found = await client.configMaps(selector);
    if (found.length === 0)
      throw new PluginError(`no ConfigMap matches spec.migrations.selector (${selector})`);
    return found;
  }
  const configMaps: V1ConfigMap[] = [];
  for (const { name } of source.configMaps ?? []) {
    const configMap = await client.configMap(name);
    if (configMap === undefined) throw new PluginError(`ConfigMap "${name}" (spec.migrations) not found`);
    configMaps.push(configMap);
  }
  return configMaps;
}

/** `--to`: `-N` (a count of migrations back from status.currentRevision), or a revision as it is. */
export function parseSteps(to: string): number | undefined {
  const match = /^-(\d+)$/.exec(to.trim());
  if (match === null) return undefined;
  const steps = Number(match[1]);
  if (steps < 1) throw new PluginError('--to -N needs N of 1 or more', 2);
  return steps;
}

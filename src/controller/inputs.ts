import { Reason } from '../api/v1alpha1/conditions.js';
import type { SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { WorkloadKind } from '../api/v1alpha1/spec.js';
import type { ConfigMapData, KubeClient, WorkloadState } from '../kube/types.js';
import { MigrationError } from '../migrations/errors.js';
import {
  filesOfConfigMaps,
  parseMigrationSource,
  type ConfigMapFiles,
  type MigrationSource,
} from '../migrations/source.js';

/** Everything a run reads from the cluster before it may act. */
export interface Inputs {
  readonly databaseUrl: string;
  readonly source: MigrationSource;
  /** spec.workload names an object that does not exist (yet: a first install under GitOps). */
  readonly workloadMissing?: boolean;
  /** spec.workload as this reconcile read it, so that the scale-down step does not read it again. */
  readonly workload?: { readonly kind: WorkloadKind; readonly name: string; readonly state: WorkloadState };
}

/**
 * Why a Secret's value is not a database URL we accept, or undefined when it is one: postgres:// or
 * postgresql://, parseable, with a host (or a `host` parameter for a socket directory). Never quotes the value.
 */
export function databaseUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return 'it is not a URL (a keyword string such as "host=… dbname=…" is not accepted)';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    return 'its scheme is not postgres:// or postgresql://';
  if (url.hostname === '' && !url.searchParams.get('host')) return 'it names no host';
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    decodeURIComponent(url.pathname);
  } catch {
    return 'it has a malformed %-escape';
  }
  return undefined;
}

/** Why a run cannot start: said in a condition, nothing touched. */
export interface Refusal {
  readonly reason: string;
  readonly message: string;
}

export type Gathered =
  { readonly ok: true; readonly inputs: Inputs } | { readonly ok: false; readonly refusal: Refusal };

/** Thrown inside this module only, so each reader can stop at the first missing object. */
class Refused extends Error {
  readonly refusal: Refusal;
  constructor(reason: string, message: string) {
    super(message);
    this.refusal = { reason, message };
  }
}

const refuse = (reason: string, message: string): never => {
  throw new Refused(reason, message);
};

/** The values of reads made side by side; when some failed, the error of the first in argument order. */
async function inOrder<T extends readonly unknown[]>(
  ...reads: { [K in keyof T]: Promise<T[K]> | T[K] }
): Promise<T> {
  const settled = await Promise.allSettled(reads);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function readDatabaseUrl(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<string> {
  const { name, key } = spec.database.urlFrom.secretKeyRef;
  const secret = await kube.getSecretValue({ namespace, name }, key);
  if (!secret.found)
    return refuse(Reason.SecretNotFound, `Secret ${namespace}/${name} (spec.database.urlFrom) not found`);
  if (!secret.value)
    return refuse(Reason.SecretKeyNotFound, `Secret ${namespace}/${name} has no key "${key}"`);
  const problem = databaseUrlProblem(secret.value);
  if (problem)
    return refuse(
      Reason.InvalidDatabaseURL,
      `Secret ${namespace}/${name} key "${key}" (spec.database.urlFrom) does not hold a postgres:// or postgresql:// URL: ${problem}`,
    );
  return secret.value;
}

/** A ConfigMap's entries as files: `data` as text, `binaryData` as bytes to be read as UTF-8 (or refused). */
function configMapFiles(name: string, entries: ConfigMapData): ConfigMapFiles {
  const data: Record<string, string> = {};
  const binaryData: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(entries)) {
    if (typeof value === 'string') data[key] = value;
    else binaryData[key] = value;
  }
  return { name, data, binaryData };
}

/** The ConfigMaps named and those the selector matches, each once (a name listed and matched is one ConfigMap). */
async function migrationConfigMaps(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<ConfigMapFiles[]> {
  const found = new Map<string, ConfigMapFiles>();
  const { configMaps, selector } = spec.migrations;
  const named = (configMaps ?? []).map(async ({ name }) => {
    const entries = await kube.getConfigMapData({ namespace, name });
    if (!entries)
      return refuse(
        Reason.ConfigMapNotFound,
        `ConfigMap ${namespace}/${name} (spec.migrations.configMaps) not found`,
      );
    return configMapFiles(name, entries);
  });
  const matching = async () => {
    if (!selector) return [];
    const matched = await kube.listConfigMapData(namespace, selector.matchLabels ?? {});
    if (matched.length === 0) {
      return refuse(
        Reason.NoMigrationsFound,
        `no ConfigMap in ${namespace} matches spec.migrations.selector`,
      );
    }
    return matched.map(({ name, data }) => configMapFiles(name, data));
  };
  const [listed, selected] = await inOrder(inOrder<ConfigMapFiles[]>(...named), matching());
  for (const files of [...listed, ...selected]) found.set(files.name, files);
  return [...found.values()];
}

/** Checks the backup PVC; reads the workload (the caller decides what a missing one means). */
async function checkObjects(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<Pick<Inputs, 'workloadMissing' | 'workload'>> {
  const { workload, backup } = spec;
  const [found, pvc] = await inOrder(
    workload ? kube.getWorkload(workload.kind, { namespace, name: workload.name }) : undefined,
    backup ? kube.pvcExists({ namespace, name: backup.pvc }) : true,
  );
  if (!pvc)
    refuse(
      Reason.BackupPvcNotFound,
      `PersistentVolumeClaim ${namespace}/${backup?.pvc} (spec.backup.pvc) not found`,
    );
  if (!workload) return {};
  return found
    ? { workload: { kind: workload.kind, name: workload.name, state: found } }
    : { workloadMissing: true };
}

/** Reads the Secret, the migration ConfigMaps, the workload and the backup PVC; refuses, naming what is wrong. */
export async function gatherInputs(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<Gathered> {
  try {
    // Read side by side; the first refusal in this order is the one reported.
    const [databaseUrl, configMaps, workload] = await inOrder(
      readDatabaseUrl(kube, namespace, spec),
      migrationConfigMaps(kube, namespace, spec),
      checkObjects(kube, namespace, spec),
    );
    const files = filesOfConfigMaps(configMaps);
    const source = parseMigrationSource(files);
    return { ok: true, inputs: { databaseUrl, source, ...workload } };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, refusal: err.refusal };
    if (err instanceof MigrationError)
      return { ok: false, refusal: { reason: err.code, message: err.message } };
    throw err;
  }
}

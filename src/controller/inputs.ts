import { Reason } from '../api/v1alpha1/conditions.js';
import type { SchemaMigrationSpec } from '../api/v1alpha1/spec.js';
import type { ConfigMapData, KubeClient } from '../kube/types.js';
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
  for (const { name } of configMaps ?? []) {
    const entries = await kube.getConfigMapData({ namespace, name });
    if (!entries)
      return refuse(
        Reason.ConfigMapNotFound,
        `ConfigMap ${namespace}/${name} (spec.migrations.configMaps) not found`,
      );
    found.set(name, configMapFiles(name, entries));
  }
  if (selector) {
    const matched = await kube.listConfigMapData(namespace, selector.matchLabels ?? {});
    if (matched.length === 0) {
      return refuse(
        Reason.NoMigrationsFound,
        `no ConfigMap in ${namespace} matches spec.migrations.selector`,
      );
    }
    for (const { name, data } of matched) found.set(name, configMapFiles(name, data));
  }
  return [...found.values()];
}

/** Checks the backup PVC; says whether the workload is missing (the caller decides what that means). */
async function checkObjects(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<boolean> {
  const workloadMissing =
    spec.workload !== undefined &&
    !(await kube.getWorkload(spec.workload.kind, { namespace, name: spec.workload.name }));
  if (spec.backup && !(await kube.pvcExists({ namespace, name: spec.backup.pvc }))) {
    refuse(
      Reason.BackupPvcNotFound,
      `PersistentVolumeClaim ${namespace}/${spec.backup.pvc} (spec.backup.pvc) not found`,
    );
  }
  return workloadMissing;
}

/** Reads the Secret, the migration ConfigMaps, the workload and the backup PVC; refuses, naming what is wrong. */
export async function gatherInputs(
  kube: KubeClient,
  namespace: string,
  spec: SchemaMigrationSpec,
): Promise<Gathered> {
  try {
    const databaseUrl = await readDatabaseUrl(kube, namespace, spec);
    const files = filesOfConfigMaps(await migrationConfigMaps(kube, namespace, spec));
    const workloadMissing = await checkObjects(kube, namespace, spec);
    const source = parseMigrationSource(files);
    return { ok: true, inputs: { databaseUrl, source, ...(workloadMissing ? { workloadMissing } : {}) } };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, refusal: err.refusal };
    if (err instanceof MigrationError)
      return { ok: false, refusal: { reason: err.code, message: err.message } };
    throw err;
  }
}

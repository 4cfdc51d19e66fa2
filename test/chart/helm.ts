import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** What the chart tests share: where the chart and helm are, and the value sets they render and install. */

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const CHART = join(root, 'charts/schemaops');
export const RELEASE = 'schemaops';
export const NAMESPACE = 'schemaops-system';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** helm from PATH, else the binary scripts/tools.js unpacks from the npm package. */
export function findHelm(): string {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'helm'))
    .find(isExecutable);
  const unpacked = join(root, 'node_modules/.cache/schemaops-tools/bin/helm');
  const helm = onPath ?? (isExecutable(unpacked) ? unpacked : undefined);
  if (helm === undefined)
    throw new Error('helm not found on PATH: run `node_modules/.bin/node scripts/tools.js` to unpack it');
  return helm;
}

/** Helm's cache, config and data directories under `home`, so that tests never touch the user's. */
export function helmEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

export function setFlags(values: Record<string, string>): string[] {
  return Object.entries(values).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
}

export const scenarios = {
  default: {},
  namespaced: { 'rbac.scope': 'namespace' },
  watchNamespaces: { 'rbac.scope': 'namespace', watchNamespaces: '{shop,billing}' },
  serviceMonitor: { 'metrics.serviceMonitor.enabled': 'true' },
  withoutCrd: { 'crds.install': 'false' },
  withoutElection: { 'leaderElection.enabled': 'false' },
  twoReplicas: { replicaCount: '2', 'leaderElection.enabled': 'false' },
  customised: {
    'rbac.scope': 'namespace',
    replicaCount: '3',
    'image.tag': '0.2.0-rc.1',
    'image.pullPolicy': 'Always',
    'imagePullSecrets[0].name': 'registry',
    'operator.maxConcurrentReconciles': '8',
    'operator.logLevel': 'debug',
    'operator.extraArgs[0]': '--some-flag',
    'metrics.serviceMonitor.enabled': 'true',
    'metrics.serviceMonitor.labels.release': 'prometheus',
    'serviceAccount.name': 'migrator',
    'tmpVolume.sizeLimit': '',
    'podLabels.team': 'platform',
    fullnameOverride: 'migrations',
  },
  /** Every value added in 0.2.0 set away from its default, the monitoring.coreos.com kinds aside. */
  hardened: {
    'podSecurityContext.runAsUser': '1001',
    'podSecurityContext.fsGroup': 'null',
    'securityContext.runAsUser': '1001',
    'securityContext.runAsGroup': 'null',
    'extraVolumes[0].name': 'db-ca',
    'extraVolumes[0].configMap.name': 'db-ca',
    'extraVolumeMounts[0].name': 'db-ca',
    'extraVolumeMounts[0].mountPath': '/etc/schemaops/ca',
    'extraVolumeMounts[0].readOnly': 'true',
    'operator.extraEnv[0].name': 'NODE_EXTRA_CA_CERTS',
    'operator.extraEnv[0].value': '/etc/schemaops/ca/ca.crt',
    'livenessProbe.periodSeconds': '30',
    'livenessProbe.failureThreshold': '5',
    'readinessProbe.initialDelaySeconds': '2',
    'podDisruptionBudget.enabled': 'true',
    'networkPolicy.enabled': 'true',
    'networkPolicy.apiServer.cidrs[0]': '10.0.0.1/32',
    'networkPolicy.apiServer.ports[0]': '6443',
    'networkPolicy.database.ports[0]': '5432',
    'networkPolicy.database.ports[1]': '6432',
    'networkPolicy.database.to[0].ipBlock.cidr': '10.20.0.0/16',
    'networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.name': 'monitoring',
    'metrics.dashboard.enabled': 'true',
    'metrics.dashboard.namespace': 'monitoring',
  },
  minAvailable: { 'podDisruptionBudget.enabled': 'true', 'podDisruptionBudget.minAvailable': '1' },
  withoutAggregatedRoles: { 'rbac.aggregateToDefaultRoles': 'false' },
  /** The PrometheusRule and the ServiceMonitor: their CRDs are the Prometheus Operator's, not on every cluster. */
  monitoring: {
    'metrics.serviceMonitor.enabled': 'true',
    'metrics.prometheusRule.enabled': 'true',
    'metrics.prometheusRule.labels.release': 'prometheus',
    'metrics.prometheusRule.alertLabels.team': 'platform',
    'metrics.prometheusRule.stalledFor': '30m',
    'metrics.dashboard.enabled': 'true',
  },
} satisfies Record<string, Record<string, string>>;
export type Scenario = keyof typeof scenarios;
export const scenarioNames = Object.keys(scenarios) as Scenario[];

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

/** Rules with their lists and the rules themselves in one order, so that two RBACs compare by what they grant. */
export function normaliseRules(rules: readonly PolicyRule[]): PolicyRule[] {
  const sorted = rules.map((rule) => {
    const entries = Object.entries(rule)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, [...(value as string[])].sort()] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    return Object.fromEntries(entries) as unknown as PolicyRule;
  });
  return sorted.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** The rules of a Role or ClusterRole manifest in config/rbac/. */
export function kustomizeRules(file: string): PolicyRule[] {
  const role = parse(readFileSync(join(root, 'config/rbac', file), 'utf8')) as { rules: PolicyRule[] };
  return role.rules;
}

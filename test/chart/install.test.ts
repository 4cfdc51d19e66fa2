import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1ClusterRole, V1Deployment, V1Pod, V1Role } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { startTestCluster, waitFor, type TestCluster } from '../localcluster/support.js';
import {
  CHART,
  findHelm,
  helmEnv,
  kustomizeRules,
  NAMESPACE,
  normaliseRules,
  RELEASE,
  root,
  scenarios,
  setFlags,
  type KubeObject,
  type PolicyRule,
  type Scenario,
} from './helm.js';

// The chart installed, upgraded and uninstalled by helm on a real control plane (kube-apiserver with RBAC,
// controller-manager, scheduler and the local kubelet), as a user would; test/chart/chart.test.ts renders it.

const CRD = 'schemamigrations.schemaops.dev';
const SERVICE_ACCOUNT = RELEASE; // the release's full name
const HELM_TIMEOUT = '2m';
const STEP_MS = 150_000;

let t: TestCluster;

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

/** helm with the admin kubeconfig file and its own cache, config and data under the test's directory. */
function helm(args: string[], { allowFailure = false } = {}): Promise<Run> {
  const env = { ...helmEnv(join(t.dir, 'helm')), KUBECONFIG: t.kubeconfigPath };
  return new Promise((resolve, reject) => {
    // Asynchronous: the local kubelet runs in this process and must go on marking pods Ready meanwhile.
    execFile(
      findHelm(),
      [...args, '--kubeconfig', t.kubeconfigPath],
      { env, timeout: STEP_MS },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        if (code !== 0 && !allowFailure)
          reject(new Error(`helm ${args.join(' ')} failed (${code}): ${stderr || err?.message}`));
        else resolve({ stdout, stderr, code });
      },
    );
  });
}

async function render(values: Record<string, string>, release = RELEASE, namespace = NAMESPACE) {
  const { stdout } = await helm(['template', release, CHART, '-n', namespace, ...setFlags(values)]);
  return { manifest: stdout, objects: parseAllDocuments(stdout).map((d) => d.toJS() as KubeObject) };
}

/** `kind.group name`, as kubectl names a resource of any group. */
function resourceOf(object: Pick<KubeObject, 'apiVersion' | 'kind'>): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : undefined;
  return group === undefined ? object.kind.toLowerCase() : `${object.kind.toLowerCase()}.${group}`;
}

const namespaceArgs = (object: KubeObject) =>
  object.metadata.namespace === undefined ? [] : ['-n', object.metadata.namespace];

async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse((await t.kubectl(['get', ...args, '-o', 'json'])).stdout) as T;
}

/** The names of those `objects` that the API server still has. */
async function stillThere(objects: KubeObject[]): Promise<string[]> {
  const found: string[] = [];
  for (const object of objects) {
    const args = ['get', resourceOf(object), object.metadata.name, ...namespaceArgs(object)];
    const { stdout } = await t.kubectl([...args, '--ignore-not-found', '-o', 'name']);
    if (stdout.trim() !== '') found.push(`${object.kind}/${object.metadata.name}`);
  }
  return found;
}

const deployment = () => getJson<V1Deployment>(['deployment', RELEASE, '-n', NAMESPACE]);

const podsOf = async (release: string, namespace: string) =>
  (
    await getJson<{ items: V1Pod[] }>([
      'pods',
      '-n',
      namespace,
      '-l',
      `app.kubernetes.io/instance=${release}`,
    ])
  ).items;

/** Every grant of `rules` as kubectl auth can-i arguments: verb, resource[.group][/name] and --subresource. */
function canIArgs(rules: readonly PolicyRule[]): string[][] {
  return rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? []).flatMap((resource) => {
        const [base, subresource] = resource.split('/');
        const qualified = group === '' ? base! : `${base}.${group}`;
        const targets = rule.resourceNames?.map((name) => `${qualified}/${name}`) ?? [qualified];
        const sub = subresource === undefined ? [] : [`--subresource=${subresource}`];
        return targets.flatMap((target) => rule.verbs.map((verb) => [verb, target, ...sub]));
      }),
    ),
  );
}

/** A stand-in for the Prometheus Operator's ServiceMonitor CRD: the same types for the fields the chart sets. */
const serviceMonitorCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { plural: 'servicemonitors', singular: 'servicemonitor', kind: 'ServiceMonitor' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              spec: {
                type: 'object',
                required: ['selector'],
                properties: {
                  selector: {
                    type: 'object',
                    properties: {
                      matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                    },
                  },
                  namespaceSelector: {
                    type: 'object',
                    properties: {
                      any: { type: 'boolean' },
                      matchNames: { type: 'array', items: { type: 'string' } },
                    },
                  },
                  endpoints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        port: { type: 'string' },
                        path: { type: 'string' },
                        interval: { type: 'string', pattern: '^(0|(([0-9]+)(ms|s|m|h|d|w|y))+)$' },
                        scrapeTimeout: { type: 'string', pattern: '^(0|(([0-9]+)(ms|s|m|h|d|w|y))+)$' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

beforeAll(async () => {
  t = await startTestCluster();
  for (const namespace of ['shop', 'billing', 'monitoring'])
    await t.kubectl(['create', 'namespace', namespace]);
  const args = ['install', RELEASE, CHART, '-n', NAMESPACE, '--create-namespace', '--wait'];
  await helm([...args, '--timeout', HELM_TIMEOUT]);
}, STEP_MS);

afterAll(async () => {
  await t?.close();
});

describe('the Helm chart on a real cluster', () => {
  it('helm install --wait creates every object the chart renders, owned by the release, and rolls the operator out', async () => {
    const { objects } = await render({});
    expect(objects.length).toBeGreaterThan(5);
    for (const object of objects) {
      const live = await getJson<KubeObject>([
        resourceOf(object),
        object.metadata.name,
        ...namespaceArgs(object),
      ]);
      expect([live.kind, live.metadata.annotations?.['meta.helm.sh/release-name']]).toEqual([
        object.kind,
        RELEASE,
      ]);
      expect(live.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }
    const status = await deployment();
    expect(status.status?.observedGeneration).toBe(status.metadata?.generation);
    expect(status.status?.availableReplicas).toBe(1);
    const release = JSON.parse((await helm(['status', RELEASE, '-n', NAMESPACE, '-o', 'json'])).stdout) as {
      info: { status: string };
    };
    expect(release.info.status).toBe('deployed');
  });

  it(
    "lets the chart's ServiceAccount make every call config/rbac grants, and denies the rest",
    async () => {
      const { stdout: token } = await t.kubectl(['create', 'token', SERVICE_ACCOUNT, '-n', NAMESPACE]);
      const kubeconfig = join(t.dir, 'chart-operator.kubeconfig');
      t.cluster.writeKubeconfig(kubeconfig, { token: token.trim() });
      const asOperator = (args: string[]) =>
        t.kubectl(['--kubeconfig', kubeconfig, ...args], { allowFailure: true });
      const whoami = await asOperator(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
      expect(whoami.stdout).toBe(`system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}`);
      const canI = async (args: string[], namespace: string) =>
        `${(await asOperator(['auth', 'can-i', ...args, '-n', namespace])).stdout.trim()}: ${args.join(' ')} -n ${namespace}`;

      const allowed = [
        ...canIArgs(kustomizeRules('role.yaml')).map((args) => [args, 'shop'] as const),
        ...canIArgs(kustomizeRules('leader_election_role.yaml')).map((args) => [args, NAMESPACE] as const),
      ];
      expect(allowed.length).toBeGreaterThan(20);
      const answers = await Promise.all(allowed.map(([args, namespace]) => canI(args, namespace)));
      expect(answers.filter((answer) => !answer.startsWith('yes:'))).toEqual([]);

      const denied: [string[], string][] = [
        [['delete', 'jobs.batch'], 'shop'],
        [['delete', 'schemamigrations.schemaops.dev'], 'shop'],
        [['update', 'schemamigrations.schemaops.dev', '--subresource=status'], 'shop'],
        [['update', 'deployments.apps'], 'shop'],
        [['list', 'secrets'], 'shop'],
        [['create', 'pods'], 'shop'],
        [['create', 'events'], 'shop'],
        [['create', 'leases.coordination.k8s.io'], 'shop'],
        [['update', 'leases.coordination.k8s.io/someone-else'], NAMESPACE],
      ];
      const refusals = await Promise.all(denied.map(([args, namespace]) => canI(args, namespace)));
      expect(refusals.filter((answer) => !answer.startsWith('no:'))).toEqual([]);
    },
    STEP_MS,
  );

  it('stores a ClusterRole and a Lease Role with exactly the rules of config/rbac, order aside', async () => {
    const clusterRole = await getJson<V1ClusterRole>(['clusterrole', RELEASE]);
    expect(normaliseRules(clusterRole.rules ?? [])).toEqual(normaliseRules(kustomizeRules('role.yaml')));
    const leaseRole = await getJson<V1Role>(['role', `${RELEASE}-leader-election`, '-n', NAMESPACE]);
    expect(normaliseRules(leaseRole.rules ?? [])).toEqual(
      normaliseRules(kustomizeRules('leader_election_role.yaml')),
    );
  });

  it(
    "lets a namespace's editors create, approve and delete SchemaMigrations through the built-in edit role, its viewers read them, and neither write status",
    async () => {
      // The built-in roles take in the chart's once the aggregation controller has seen them.
      const aggregated = async (role: string) =>
        (await getJson<V1ClusterRole>(['clusterrole', role])).rules?.some((rule) =>
          rule.apiGroups?.includes('schemaops.dev'),
        ) ?? false;
      for (const role of ['view', 'edit', 'admin'])
        await waitFor(() => aggregated(role), {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `${role} to aggregate`,
        });
      for (const [person, role] of [
        ['editor', 'edit'],
        ['viewer', 'view'],
      ] as const) {
        await t.kubectl(['create', 'serviceaccount', person, '-n', 'shop']);
        await t.kubectl([
          'create',
          'rolebinding',
          person,
          `--clusterrole=${role}`,
          `--serviceaccount=shop:${person}`,
          '-n',
          'shop',
        ]);
      }
      const as = (person: string, args: string[]) =>
        t.kubectl([...args, '-n', 'shop', `--as=system:serviceaccount:shop:${person}`], {
          allowFailure: true,
        });
      const migration = {
        apiVersion: 'schemaops.dev/v1alpha1',
        kind: 'SchemaMigration',
        metadata: { name: 'invoices', namespace: 'shop' },
        spec: {
          targetRevision: 'latest',
          database: { urlFrom: { secretKeyRef: { name: 'invoices-db', key: 'url' } } },
          migrations: { configMaps: [{ name: 'invoices-migrations' }] },
          policy: { approval: 'Manual' },
        },
      };
      const refusedCreate = await t.kubectl(['create', '-f', '-', '--as=system:serviceaccount:shop:viewer'], {
        input: stringify(migration),
        allowFailure: true,
      });
      expect(refusedCreate.stderr).toContain('forbidden');
      const created = await t.kubectl(['create', '-f', '-', '--as=system:serviceaccount:shop:editor'], {
        input: stringify(migration),
      });
      expect(created.stdout).toContain('schemamigration.schemaops.dev/invoices created');

      const approve = ['annotate', 'smig', 'invoices', 'schemaops.dev/approve=sha256:abc', '--overwrite'];
      expect((await as('editor', approve)).code).toBe(0);
      expect((await as('viewer', approve)).stderr).toContain('forbidden');
      const retarget = [
        'patch',
        'smig',
        'invoices',
        '--type=merge',
        '-p',
        '{"spec":{"targetRevision":"base"}}',
      ];
      expect((await as('editor', retarget)).code).toBe(0);
      const status = [
        'patch',
        'smig',
        'invoices',
        '--subresource=status',
        '--type=merge',
        '-p',
        '{"status":{"phase":"Ready"}}',
      ];
      for (const person of ['editor', 'viewer'])
        expect([person, (await as(person, status)).stderr]).toEqual([
          person,
          expect.stringContaining('forbidden'),
        ]);
      const read = await as('viewer', [
        'get',
        'smig',
        'invoices',
        '-o',
        'jsonpath={.spec.targetRevision} {.metadata.annotations}',
      ]);
      expect(read.stdout).toBe('base {"schemaops.dev/approve":"sha256:abc"}');
      expect(
        (await as('viewer', ['get', 'smig', 'invoices', '--subresource=status', '-o', 'name'])).code,
      ).toBe(0);
      expect((await as('viewer', ['delete', 'smig', 'invoices'])).stderr).toContain('forbidden');
      expect((await as('editor', ['delete', 'smig', 'invoices'])).code).toBe(0);
      // A namespace admin gets the same through admin; nobody gets anything outside the namespace.
      const canI = async (args: string[]) =>
        (await t.kubectl(['auth', 'can-i', ...args], { allowFailure: true })).stdout.trim();
      await t.kubectl([
        'create',
        'rolebinding',
        'owner',
        '--clusterrole=admin',
        '--serviceaccount=shop:owner',
        '-n',
        'shop',
      ]);
      expect(
        await canI([
          'patch',
          'schemamigrations.schemaops.dev',
          '-n',
          'shop',
          '--as=system:serviceaccount:shop:owner',
        ]),
      ).toBe('yes');
      expect(
        await canI([
          'patch',
          'schemamigrations.schemaops.dev',
          '-n',
          'billing',
          '--as=system:serviceaccount:shop:editor',
        ]),
      ).toBe('no');
    },
    STEP_MS,
  );

  it(
    '`make build-installer` writes one manifest of config/default that kube-apiserver accepts under --validate=strict',
    async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'schemaops-installer-')), 'install.yaml');
      const made = await new Promise<string>((resolve, reject) =>
        execFile(
          'make',
          ['-C', root, 'build-installer', `INSTALLER=${out}`, 'IMG=registry.example/schemaops:0.2.0'],
          (err, stdout, stderr) =>
            err ? reject(new Error(`make build-installer failed: ${stderr}`)) : resolve(stdout),
        ),
      );
      expect(made).toContain(`wrote ${out}`);
      const manifest = readFileSync(out, 'utf8');
      const objects = parseAllDocuments(manifest).map((d) => d.toJS() as KubeObject);
      expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
        expect.arrayContaining([
          'Namespace/schemaops-system',
          'CustomResourceDefinition/schemamigrations.schemaops.dev',
          'Deployment/schemaops-controller-manager',
          'Service/schemaops-metrics',
          'ClusterRole/schemaops-view',
          'ClusterRole/schemaops-edit',
        ]),
      );
      expect(manifest).toContain('image: registry.example/schemaops:0.2.0');
      const applied = await t.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', out], {
        allowFailure: true,
      });
      expect([applied.code, applied.stderr.replace(/^Warning: .*\n/gm, '')]).toEqual([0, '']);
      expect(applied.stdout.trim().split('\n')).toHaveLength(objects.length);
    },
    STEP_MS,
  );

  it(
    'has every value set accepted by kube-apiserver under --validate=strict, and a misspelt field refused',
    async () => {
      // The monitoring.coreos.com kinds need the Prometheus Operator's CRDs (promtool checks the rule's content).
      const plain = (Object.keys(scenarios) as Scenario[]).filter(
        (name) =>
          !('metrics.serviceMonitor.enabled' in scenarios[name]) &&
          !('metrics.prometheusRule.enabled' in scenarios[name]),
      );
      expect(plain).toContain('hardened');
      expect(plain.length).toBeGreaterThan(4);
      for (const scenario of plain) {
        const { manifest } = await render(scenarios[scenario]);
        const applied = await t.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], {
          input: manifest,
          allowFailure: true,
        });
        expect([scenario, applied.code, applied.stderr.replace(/^Warning: .*\n/gm, '')]).toEqual([
          scenario,
          0,
          '',
        ]);
        if (scenario === 'hardened')
          for (const kind of ['poddisruptionbudget.policy', 'networkpolicy.networking.k8s.io', 'configmap'])
            expect(applied.stdout).toMatch(
              new RegExp(`^${kind.replace(/\./g, '\\.')}/\\S+ created \\(server dry run\\)$`, 'm'),
            );
      }
      const { manifest } = await render({});
      const misspelt = manifest.replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesytem: true');
      expect(misspelt).not.toBe(manifest);
      const refused = await t.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], {
        input: misspelt,
        allowFailure: true,
      });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/unknown field .*readOnlyRootFilesytem/);
    },
    STEP_MS,
  );

  it(
    "refuses a ServiceMonitor without the Prometheus Operator's CRD, leaving nothing behind, and installs it with the CRD",
    async () => {
      const release = 'monitored';
      const namespace = 'monitoring';
      const values = { 'metrics.serviceMonitor.enabled': 'true', 'crds.install': 'false' };
      const install = ['install', release, CHART, '-n', namespace, '--create-namespace', ...setFlags(values)];
      const refused = await helm([...install, '--wait', '--timeout', HELM_TIMEOUT], { allowFailure: true });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(
        'no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"',
      );
      const { objects } = await render(values, release, namespace);
      expect(await stillThere(objects.filter((o) => o.kind !== 'ServiceMonitor'))).toEqual([]);
      expect((await helm(['status', release, '-n', namespace], { allowFailure: true })).code).not.toBe(0);

      await t.kubectl(['apply', '-f', '-'], { input: stringify(serviceMonitorCrd) });
      await t.kubectl([
        'wait',
        '--for=condition=Established',
        `crd/${serviceMonitorCrd.metadata.name}`,
        '--timeout=60s',
      ]);
      for (const scenario of ['serviceMonitor', 'customised'] as const) {
        const { manifest } = await render(scenarios[scenario]);
        const applied = await t.kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], {
          input: manifest,
        });
        expect(applied.stdout).toMatch(
          /servicemonitor\.monitoring\.coreos\.com\/\S+ created \(server dry run\)/,
        );
      }
      await helm([...install, '--wait', '--timeout', HELM_TIMEOUT]);
      const monitor = await getJson<
        KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } }
      >(['servicemonitor', `${release}-schemaops`, '-n', namespace]);
      const selector = Object.entries(monitor.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`);
      const services = await t.kubectl([
        'get',
        'services',
        '-n',
        namespace,
        '-l',
        selector.join(','),
        '-o',
        'name',
      ]);
      expect(services.stdout.trim()).toBe(`service/${release}-schemaops-metrics`);
      await helm(['uninstall', release, '-n', namespace, '--wait', '--timeout', HELM_TIMEOUT]);
      expect(await stillThere(objects)).toEqual([]);
    },
    STEP_MS,
  );

  it(
    'helm upgrade --wait rolls out the changed Deployment: new limit and log level, one ready pod of the new template',
    async () => {
      const before = await deployment();
      const upgrade = ['upgrade', RELEASE, CHART, '-n', NAMESPACE, '--reuse-values', '--wait'];
      const values = { 'resources.limits.memory': '256Mi', 'operator.logLevel': 'debug' };
      await helm([...upgrade, '--timeout', HELM_TIMEOUT, ...setFlags(values)]);

      const after = await deployment();
      const generation = after.metadata?.generation;
      expect(generation).toBe((before.metadata?.generation ?? 0) + 1);
      expect(after.status?.observedGeneration).toBe(generation);
      const container = after.spec?.template.spec?.containers[0];
      expect(container?.resources?.limits).toEqual({ memory: '256Mi' });
      expect(container?.args?.join(' ')).toContain('--log-level debug');
      const rollout = await t.kubectl([
        'rollout',
        'status',
        `deployment/${RELEASE}`,
        '-n',
        NAMESPACE,
        '--timeout=60s',
      ]);
      expect(rollout.stdout).toContain('successfully rolled out');
      expect([after.status?.updatedReplicas, after.status?.availableReplicas]).toEqual([1, 1]);

      const pods = await waitFor(
        async () => {
          const found = await podsOf(RELEASE, NAMESPACE);
          return found.length === 1 && found;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the old pod to go' },
      );
      expect(pods[0]?.spec?.containers[0]?.resources?.limits).toEqual({ memory: '256Mi' });
      expect(pods[0]?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      const history = JSON.parse(
        (await helm(['history', RELEASE, '-n', NAMESPACE, '-o', 'json'])).stdout,
      ) as {
        revision: number;
        status: string;
      }[];
      expect(history.map((h) => [h.revision, h.status])).toEqual([
        [1, 'superseded'],
        [2, 'deployed'],
      ]);
    },
    STEP_MS,
  );

  it(
    'helm uninstall --wait removes the release but keeps the CRD and the SchemaMigrations, as docs/helm.md says',
    async () => {
      const migration = {
        apiVersion: 'schemaops.dev/v1alpha1',
        kind: 'SchemaMigration',
        metadata: { name: 'orders', namespace: 'shop' },
        spec: {
          targetRevision: 'latest',
          database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
          migrations: { configMaps: [{ name: 'orders-migrations' }] },
        },
      };
      await t.kubectl(['apply', '-f', '-'], { input: stringify(migration) });
      const crdUid = (await getJson<KubeObject & { metadata: { uid: string } }>(['crd', CRD])).metadata.uid;
      const { objects } = await render({});
      const released = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
      expect(await stillThere(released)).toHaveLength(released.length);

      const uninstall = await helm([
        'uninstall',
        RELEASE,
        '-n',
        NAMESPACE,
        '--wait',
        '--timeout',
        HELM_TIMEOUT,
      ]);
      expect(uninstall.stdout).toContain(`[CustomResourceDefinition] ${CRD}`);
      expect(await stillThere(released)).toEqual([]);
      await waitFor(async () => (await podsOf(RELEASE, NAMESPACE)).length === 0, {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: "the operator's pods to be collected",
      });
      expect((await helm(['status', RELEASE, '-n', NAMESPACE], { allowFailure: true })).code).not.toBe(0);
      expect((await getJson<KubeObject>(['smig', 'orders', '-n', 'shop'])).metadata.name).toBe('orders');

      // Only a release of the same name in the same namespace may take the kept CRD back.
      const other = [
        'install',
        'other',
        CHART,
        '-n',
        'other',
        '--create-namespace',
        '--wait',
        '--timeout',
        HELM_TIMEOUT,
      ];
      const refused = await helm(other, { allowFailure: true });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('invalid ownership metadata');
      await helm([...other, '--set', 'crds.install=false']);
      await helm(['uninstall', 'other', '-n', 'other', '--wait', '--timeout', HELM_TIMEOUT]);
      await helm(['install', RELEASE, CHART, '-n', NAMESPACE, '--wait', '--timeout', HELM_TIMEOUT]);
      const adopted = await getJson<KubeObject & { metadata: { uid: string } }>(['crd', CRD]);
      expect([adopted.metadata.uid, adopted.metadata.annotations?.['meta.helm.sh/release-name']]).toEqual([
        crdUid,
        RELEASE,
      ]);
      expect(await stillThere(released)).toHaveLength(released.length);
    },
    STEP_MS,
  );
  it(
    'installs after the CRD was applied with kubectl, as README.md says: crds.install=false, and the CRD left as it was',
    async () => {
      await helm(['uninstall', RELEASE, '-n', NAMESPACE, '--wait', '--timeout', HELM_TIMEOUT]);
      await t.kubectl(['delete', 'crd', CRD, '--wait=true', '--timeout=60s']);
      await t.kubectl([
        'apply',
        '--server-side',
        '-f',
        join(root, 'crds/schemaops.dev_schemamigrations.yaml'),
      ]);
      await t.kubectl(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=60s']);

      // Without the flag Helm refuses to take over an object it did not create.
      const install = ['install', RELEASE, CHART, '-n', NAMESPACE, '--wait', '--timeout', HELM_TIMEOUT];
      const refused = await helm(install, { allowFailure: true });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('invalid ownership metadata');
      await helm([...install, '--set', 'crds.install=false']);
      const crd = await getJson<KubeObject>(['crd', CRD]);
      expect(crd.metadata.annotations?.['meta.helm.sh/release-name']).toBeUndefined();
      expect((await deployment()).status?.availableReplicas).toBe(1);
      const { objects } = await render({ 'crds.install': 'false' });
      expect(await stillThere(objects)).toHaveLength(objects.length);
      // An upgrade of the CRD is then the user's: the same server-side apply.
      const again = await t.kubectl([
        'apply',
        '--server-side',
        '-f',
        join(root, 'crds/schemaops.dev_schemamigrations.yaml'),
      ]);
      expect(again.stdout).toContain(
        `customresourcedefinition.apiextensions.k8s.io/${CRD} serverside-applied`,
      );
    },
    STEP_MS,
  );
});

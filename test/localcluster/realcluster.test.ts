import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { API_VERSION, KIND } from '../../src/api/v1alpha1/group.js';
import { createEventRecorder } from '../../src/kube/events.js';
import { installOperator, startTestCluster, waitFor, writeFile, type TestCluster } from './support.js';

// What a home-made API server let through and a real one refuses, checked on the real one with the
// manifests the project ships, applied as they are.
let t: TestCluster;
let operator: Awaited<ReturnType<typeof installOperator>>;

beforeAll(async () => {
  t = await startTestCluster();
  operator = await installOperator(t);
  await t.kubectl(['create', 'namespace', 'shop']);
});

afterAll(async () => {
  await t?.close();
});

/** kubectl acting as the operator's ServiceAccount. */
const asOperator = (args: string[]) =>
  t.kubectl(['--kubeconfig', operator.kubeconfigPath, ...args], { allowFailure: true });

function migration(name: string, migrations: Record<string, unknown>) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name, namespace: 'shop' },
    spec: {
      targetRevision: 'latest',
      database: { urlFrom: { secretKeyRef: { name: 'orders-db', key: 'url' } } },
      migrations,
    },
  };
}

describe('the real control plane under the shipped manifests', () => {
  it('refuses a built-in object with a field of the wrong type', async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'typed', namespace: 'shop' },
      spec: {
        ttlSecondsAfterFinished: '24h',
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } },
      },
    };
    const result = await t.kubectl(['apply', '-f', writeFile(t.dir, 'job.yaml', stringify(job))], {
      allowFailure: true,
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ttlSecondsAfterFinished/);
    const left = await t.kubectl(['get', 'jobs', '-n', 'shop', '-o', 'name']);
    expect(left.stdout).toBe('');
  });

  it("evaluates the CRD's CEL rule: configMaps and selector together are refused", async () => {
    const both = migration('both', {
      configMaps: [{ name: 'orders-migrations' }],
      selector: { matchLabels: { app: 'orders' } },
    });
    const refused = await t.kubectl(['apply', '-f', writeFile(t.dir, 'both.yaml', stringify(both))], {
      allowFailure: true,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('set exactly one of configMaps or selector');
  });

  it("applies the CRD's defaults to a stored object", async () => {
    const plain = migration('defaults', { configMaps: [{ name: 'orders-migrations' }] });
    await t.kubectl(['apply', '-f', writeFile(t.dir, 'defaults.yaml', stringify(plain))]);
    const policy = await t.kubectl([
      'get',
      'smig',
      'defaults',
      '-n',
      'shop',
      '-o',
      'jsonpath={.spec.policy}',
    ]);
    expect(JSON.parse(policy.stdout)).toMatchObject({ approval: 'Automatic', allowDataLoss: false });
  });

  it("denies the operator's ServiceAccount a verb its RBAC does not grant, and allows one it does", async () => {
    const denied = await asOperator(['auth', 'can-i', 'delete', 'jobs', '-n', 'shop']);
    expect(denied.stdout.trim()).toBe('no');
    await t.kubectl(['create', 'job', 'kept', '-n', 'shop', '--image=x', '--', 'true']);
    const forbidden = await asOperator(['delete', 'job', 'kept', '-n', 'shop']);
    expect(forbidden.code).not.toBe(0);
    expect(forbidden.stderr).toMatch(/forbidden/i);
    expect((await t.kubectl(['get', 'job', 'kept', '-n', 'shop', '-o', 'name'])).stdout.trim()).toBe(
      'job.batch/kept',
    );
    const allowed = await asOperator([
      'auth',
      'can-i',
      'patch',
      'schemamigrations.schemaops.dev/status',
      '-n',
      'shop',
    ]);
    expect(allowed.stdout.trim()).toBe('yes');
  });

  it('shows the field docs of the CRD in kubectl explain', async () => {
    const explained = await t.kubectl(['explain', 'schemamigration.spec.policy']);
    expect(explained.stdout).toContain('How runs are approved and what a failure does.');
    expect(explained.stdout).toMatch(/allowDataLoss/);
  });

  it("shows the operator's events.k8s.io Events in kubectl describe", async () => {
    const subject = JSON.parse(
      (await t.kubectl(['get', 'smig', 'defaults', '-n', 'shop', '-o', 'json'])).stdout,
    ) as { metadata: { uid: string; name: string; namespace: string } };
    // The operator's own recorder, with the operator's credentials: its RBAC must allow it.
    const kc = new KubeConfig();
    kc.loadFromString(operator.kubeconfig);
    const failures: unknown[] = [];
    const recorder = createEventRecorder(kc, {
      reportingController: 'schemaops.dev/operator',
      reportingInstance: 'schemaops-test',
      log: pino({ level: 'debug' }, { write: (line: string) => void failures.push(line) }),
    });
    await recorder.record(
      { apiVersion: API_VERSION, kind: KIND, metadata: subject.metadata },
      { type: 'Normal', reason: 'Migrating', action: 'Migrate', note: 'applying 3 migration(s) to latest' },
    );
    expect(failures).toEqual([]);
    await waitFor(
      async () =>
        (await t.kubectl(['describe', 'smig', 'defaults', '-n', 'shop'])).stdout.includes(
          'applying 3 migration(s) to latest',
        ),
      { what: 'the Event in kubectl describe' },
    );
  });
});

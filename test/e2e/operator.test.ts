import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sampleManifests } from '../../src/demo/demo.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { freshDatabase, query, testPostgres } from '../support/db.js';
import { files } from '../controller/fixtures.js';
import { startTestCluster, waitFor, type TestCluster } from '../localcluster/support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let t: TestCluster;
let operator: ChildProcess | undefined;
let operatorOutput = '';
let databaseUrl: string;

beforeAll(async () => {
  t = await startTestCluster({ controllers: { workloads: { delayMs: 100 } } });
  databaseUrl = await freshDatabase('e2e');
  // Installed the way a platform team would, from the kustomize default (CRD, RBAC, manager); the
  // manager's pods are simulated here, so the operator itself runs as a process beside it.
  await t.kubectl(['apply', '-k', join(root, 'config/default')]);
  await t.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/schemamigrations.schemaops.dev',
    '--timeout=30s',
  ]);
  operator = spawn(
    process.execPath,
    [
      '--import',
      join(root, 'scripts/register-ts.js'),
      join(root, 'src/main.ts'),
      'operator',
      '--kubeconfig',
      t.kubeconfigPath,
      '--log-level',
      'debug',
      '--metrics-addr',
      '127.0.0.1:0',
      '--health-addr',
      '127.0.0.1:0',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  operator.stdout?.on('data', (chunk: Buffer) => (operatorOutput += chunk.toString()));
  operator.stderr?.on('data', (chunk: Buffer) => (operatorOutput += chunk.toString()));
});

afterAll(async () => {
  if (operator && operator.exitCode === null) operator.kill('SIGKILL');
  await t.close();
});

describe('schemaops operator, driven through kubectl', () => {
  it('migrates on apply and rolls back on one kubectl patch', async () => {
    await t.kubectl(['apply', '-f', '-'], { input: sampleManifests(databaseUrl, files) });
    await t.kubectl(['-n', 'shop', 'wait', '--for=condition=Ready', 'smig/orders', '--timeout=60s']);
    expect(await currentRevision({ databaseUrl })).toBe('3_create-customers');
    const table = await t.kubectl(['-n', 'shop', 'get', 'smig', 'orders']);
    expect(table.stdout).toMatch(/orders\s+latest\s+3_create-customers\s+Ready\s+True/);

    await t.kubectl([
      '-n',
      'shop',
      'patch',
      'smig',
      'orders',
      '--type',
      'merge',
      '-p',
      '{"spec":{"targetRevision":"1_create-orders","policy":{"allowDataLoss":true}}}',
    ]);
    await t.kubectl([
      '-n',
      'shop',
      'wait',
      '--for=jsonpath={.status.currentRevision}=1_create-orders',
      'smig/orders',
      '--timeout=60s',
    ]);
    await t.kubectl(['-n', 'shop', 'wait', '--for=condition=Ready', 'smig/orders', '--timeout=60s']);
    expect(await currentRevision({ databaseUrl })).toBe('1_create-orders');
    expect(await query(databaseUrl, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
    const replicas = await t.kubectl([
      '-n',
      'shop',
      'get',
      'deployment',
      'orders-api',
      '-o',
      'jsonpath={.status.replicas}',
    ]);
    expect(replicas.stdout).toBe('3');
  });

  it('stalls a failing migration with the database unchanged and the replicas back, and deletes cleanly', async () => {
    const brokenUrl = await freshDatabase('e2e');
    const broken = {
      ...files,
      '4_broken.sql':
        '-- Up Migration\nCREATE TABLE audit (id int);\nSELECT no_such_function();\n-- Down Migration\n',
    };
    const docs = sampleManifests(brokenUrl, broken, 'shop2');
    await t.kubectl(['apply', '-f', '-'], { input: docs });
    await t.kubectl(['-n', 'shop2', 'wait', '--for=condition=Stalled', 'smig/orders', '--timeout=60s']);
    const reason = await t.kubectl([
      '-n',
      'shop2',
      'get',
      'smig',
      'orders',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Stalled")].reason}',
    ]);
    expect(reason.stdout).toBe('MigrationFailed');
    expect(await currentRevision({ databaseUrl: brokenUrl })).toBe('base');
    await waitFor(
      async () =>
        (
          await t.kubectl([
            '-n',
            'shop2',
            'get',
            'deployment',
            'orders-api',
            '-o',
            'jsonpath={.status.replicas}',
          ])
        ).stdout === '3',
      { what: 'the replicas back' },
    );
    const events = await t.kubectl([
      '-n',
      'shop2',
      'get',
      'events.events.k8s.io',
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    expect(events.stdout).toContain('MigrationFailed');

    await t.kubectl(['-n', 'shop2', 'delete', 'smig', 'orders', '--wait=false']);
    await t.kubectl(['-n', 'shop2', 'wait', '--for=delete', 'smig/orders', '--timeout=60s']);
  });

  it('exits cleanly on SIGTERM and never printed a secret', async () => {
    const child = operator!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(() => operatorOutput.includes('operator stopped'), {
      what: 'the operator to log its stop',
    });
    expect(operatorOutput).not.toContain(testPostgres().password);
    expect(operatorOutput).not.toMatch(/postgres:\/\/[^\s"]*@/);
  });
});

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sampleManifests } from '../../src/demo/demo.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { query } from '../support/db.js';
import { files } from '../controller/fixtures.js';
import { waitFor } from '../localcluster/support.js';
import { startTarget, targetName, type Database, type E2ETarget } from './targets.js';

// The same scenarios on the local control plane (CI) and on a kind cluster (`make e2e` with Docker).
jest.setTimeout(targetName === 'local' ? 120_000 : 900_000);

let target: E2ETarget;
let db: Database;

beforeAll(async () => {
  // Installed the way a platform team would, through kubectl from the kustomize manifests.
  target = await startTarget();
  db = await target.database('e2e');
});

afterAll(async () => {
  await target?.close();
});

/** `kubectl get` of one JSONPath. */
async function field(namespace: string, object: string, path: string): Promise<string> {
  return (await target.kubectl(['-n', namespace, 'get', object, '-o', `jsonpath={${path}}`])).stdout;
}

const wait = (namespace: string, condition: string) =>
  target.kubectl([
    '-n',
    namespace,
    'wait',
    `--for=${condition}`,
    'smig/orders',
    `--timeout=${target.waitTimeout}`,
  ]);

/** shop's database rolled back to 1_create-orders with every order row still there, and Ready. */
async function expectBackAtFirstRevision(): Promise<void> {
  await wait('shop', 'jsonpath={.status.currentRevision}=1_create-orders');
  await wait('shop', 'condition=Ready');
  expect(await currentRevision({ databaseUrl: db.local })).toBe('1_create-orders');
  expect(await query(db.local, 'SELECT total FROM orders ORDER BY id')).toEqual([
    { total: 10 },
    { total: 20 },
    { total: 30 },
  ]);
}

describe(`schemaops operator, driven through kubectl (${targetName})`, () => {
  it('migrates on apply and rolls back on one kubectl patch', async () => {
    const manifests = sampleManifests(db.inCluster, files, { appImage: target.appImage });
    await target.kubectl(['apply', '-f', '-'], { input: manifests });
    await wait('shop', 'condition=Ready');
    expect(await currentRevision({ databaseUrl: db.local })).toBe('3_create-customers');
    const table = await target.kubectl(['-n', 'shop', 'get', 'smig', 'orders']);
    expect(table.stdout).toMatch(/orders\s+latest\s+3_create-customers\s+Ready\s+True/);

    const rollback = '{"spec":{"targetRevision":"1_create-orders","policy":{"allowDataLoss":true}}}';
    await target.kubectl(['-n', 'shop', 'patch', 'smig', 'orders', '--type', 'merge', '-p', rollback]);
    await expectBackAtFirstRevision();
    expect(await field('shop', 'deployment/orders-api', '.status.replicas')).toBe('3');
  });

  it('holds a rollback for approval under approval: Destructive until kubectl annotate names its plan', async () => {
    // From the first scenario: shop is at 1_create-orders. Going up needs no approval under Destructive.
    const up =
      '{"spec":{"targetRevision":"latest","policy":{"approval":"Destructive","allowDataLoss":true}}}';
    await target.kubectl(['-n', 'shop', 'patch', 'smig', 'orders', '--type', 'merge', '-p', up]);
    await wait('shop', 'jsonpath={.status.currentRevision}=3_create-customers');
    await wait('shop', 'condition=Ready');

    const down = '{"spec":{"targetRevision":"1_create-orders"}}';
    await target.kubectl(['-n', 'shop', 'patch', 'smig', 'orders', '--type', 'merge', '-p', down]);
    await wait('shop', 'jsonpath={.status.phase}=AwaitingApproval');
    const hash = await field('shop', 'smig/orders', '.status.plan.hash');
    expect(hash).toMatch(/^sha256:/);
    expect(await currentRevision({ databaseUrl: db.local })).toBe('3_create-customers');
    expect(await field('shop', 'deployment/orders-api', '.spec.replicas')).toBe('3');
    // The Event is posted beside the status write; it says how to approve.
    const approveCommand = `kubectl -n shop annotate smig orders schemaops.dev/approve=${hash} --overwrite`;
    const notes = () =>
      target.kubectl(['-n', 'shop', 'get', 'events.events.k8s.io', '-o', 'jsonpath={.items[*].note}']);
    await waitFor(async () => (await notes()).stdout.includes(approveCommand), {
      timeoutMs: 30_000,
      what: 'the AwaitingApproval Event',
    });

    await target.kubectl([
      '-n',
      'shop',
      'annotate',
      'smig',
      'orders',
      `schemaops.dev/approve=${hash}`,
      '--overwrite',
    ]);
    await expectBackAtFirstRevision();
  });

  it('restores a listed backup on one kubectl annotate, then waits until the target names its revision', async () => {
    // From the scenarios above: shop is at 1_create-orders; the newest backup was taken before that rollback.
    const whole = '.status.backups[?(@.scope=="Full")]';
    const file = (await field('shop', 'smig/orders', `${whole}.file`)).split(' ')[0];
    const revision = (await field('shop', 'smig/orders', `${whole}.revision`)).split(' ')[0];
    expect(file).toMatch(/^orders-\d{8}T\d{6}Z\.dump$/);
    expect(revision).toBe('3_create-customers');
    await query(db.local, 'INSERT INTO orders (total) VALUES (40)');

    await target.kubectl(['-n', 'shop', 'annotate', 'smig', 'orders', `schemaops.dev/restore=${file}`]);
    await wait('shop', 'jsonpath={.status.phase}=Restored');
    await wait('shop', 'condition=Stalled');
    expect(await field('shop', 'smig/orders', '.status.conditions[?(@.type=="Ready")].reason')).toBe(
      'RestoredFromBackup',
    );
    // The database is the backup's: its revision, and the rows it held (not the one written since).
    expect(await currentRevision({ databaseUrl: db.local })).toBe('3_create-customers');
    expect(await query(db.local, 'SELECT total FROM orders ORDER BY id')).toEqual([
      { total: 10 },
      { total: 20 },
      { total: 30 },
    ]);
    expect(await field('shop', 'deployment/orders-api', '.spec.replicas')).toBe('3');

    const keep = `{"spec":{"targetRevision":"${revision}"}}`;
    await target.kubectl(['-n', 'shop', 'patch', 'smig', 'orders', '--type', 'merge', '-p', keep]);
    await wait('shop', 'condition=Ready');
    await target.kubectl(['-n', 'shop', 'annotate', 'smig', 'orders', 'schemaops.dev/restore-']);
    expect(await currentRevision({ databaseUrl: db.local })).toBe('3_create-customers');
  });

  it('stalls a failing migration with the database unchanged and the replicas back, and deletes cleanly', async () => {
    const broken = await target.database('e2e');
    const withBrokenFile = {
      ...files,
      '4_broken.sql':
        '-- Up Migration\nCREATE TABLE audit (id int);\nINSERT INTO no_such_table VALUES (1);\n-- Down Migration\n',
    };
    const manifests = sampleManifests(broken.inCluster, withBrokenFile, {
      namespace: 'shop2',
      appImage: target.appImage,
    });
    await target.kubectl(['apply', '-f', '-'], { input: manifests });
    await wait('shop2', 'condition=Stalled');
    expect(await field('shop2', 'smig/orders', '.status.conditions[?(@.type=="Stalled")].reason')).toBe(
      'MigrationFailed',
    );
    expect(await currentRevision({ databaseUrl: broken.local })).toBe('base');
    await waitFor(async () => (await field('shop2', 'deployment/orders-api', '.status.replicas')) === '3', {
      timeoutMs: 60_000,
      what: 'the replicas back',
    });
    // The Warning is posted beside the status write.
    const reasons = () =>
      target.kubectl(['-n', 'shop2', 'get', 'events.events.k8s.io', '-o', 'jsonpath={.items[*].reason}']);
    await waitFor(async () => (await reasons()).stdout.includes('MigrationFailed'), {
      timeoutMs: 30_000,
      what: 'the MigrationFailed Event',
    });

    await target.kubectl(['-n', 'shop2', 'delete', 'smig', 'orders', '--wait=false']);
    await wait('shop2', 'delete');
  });

  it('exits cleanly on SIGTERM and never printed a secret', async () => {
    expect(await target.stopOperator()).toBe(true);
    const output = target.operatorOutput();
    for (const secret of target.secrets) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/postgres:\/\/[^\s"]*@/);
  });
});

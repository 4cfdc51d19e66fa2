import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { parse } from 'yaml';
import { installOperator, startTestCluster, waitFor, type Json, type TestCluster } from '../localcluster/support.js';
import { conditions, plugin, smigApi, specOf, startPlugin, type Run } from './support.js';

const NS = 'shop';
const STEP_MS = 180_000;

let t: TestCluster;
let api: ReturnType<typeof smigApi>;
let env: NodeJS.ProcessEnv;
const run = (...args: string[]): Promise<Run> => plugin(args, env);

beforeAll(async () => {
  t = await startTestCluster();
  await installOperator(t);
  await t.kubectl(['create', 'namespace', NS]);
  // The context's namespace is `shop`: commands without -n act there, as kubectl's do.
  const kubeconfig = join(t.dir, 'shop.kubeconfig');
  t.cluster.writeKubeconfig(kubeconfig, { namespace: NS });
  env = { ...process.env, KUBECONFIG: kubeconfig };
  api = smigApi(t, NS);
}, STEP_MS);

afterAll(async () => {
  await t?.close();
});

const PLAN_HASH = `sha256:${'ab'.repeat(32)}`;
const PLAN_SQL = `-- 3_create-orders (Down) 3_create-orders.sql:4
DROP TABLE orders;
`;

/** An object the operator has planned a rollback for and waits on approval. */
async function awaitingApproval(name: string): Promise<Json> {
  const created = await api.create(name, specOf('2_add-email'));
  const generation = created.metadata.generation as number;
  return api.patchStatus(name, {
    observedGeneration: generation,
    phase: 'AwaitingApproval',
    currentRevision: '3_create-orders',
    plan: {
      from: '3_create-orders',
      to: '2_add-email',
      direction: 'Down',
      migrations: ['3_create-orders'],
      destructive: true,
      hash: PLAN_HASH,
    },
    conditions: conditions('progressing', 'AwaitingApproval', generation, 'waiting for approval'),
  });
}

const backups = [
  {
    file: 'orders-20261127T120000Z.dump',
    job: 'orders-backup-1',
    purpose: 'Run',
    revision: '3_create-orders',
    completedAt: '2026-11-27T12:00:00Z',
    sizeBytes: 1536,
    verified: 'Restore',
    tables: 2,
    rows: 12,
    countsSha256: 'sha256:1',
    tableRows: [
      { table: 'public.customers', rows: 5 },
      { table: 'public.orders', rows: 7 },
    ],
  },
  {
    file: 'orders-20261126T080000Z.dump',
    job: 'orders-backup-0',
    purpose: 'Safety',
    revision: '2_add-email',
    completedAt: '2026-11-26T08:00:00Z',
    sizeBytes: 5 * 1024 * 1024,
    verified: 'Read',
    tables: 1,
    rows: 3,
    countsSha256: 'sha256:0',
  },
];

const history = [
  {
    from: '3_create-orders',
    to: '2_add-email',
    direction: 'Restore',
    startedAt: '2026-11-27T13:00:00Z',
    finishedAt: '2026-11-27T13:01:00Z',
    outcome: 'Succeeded',
    downtimeSeconds: 42,
    backupFile: 'orders-20261127T130000Z.dump',
    restoredFrom: 'orders-20261126T080000Z.dump',
  },
  {
    from: 'base',
    to: '3_create-orders',
    direction: 'Up',
    startedAt: '2026-11-27T11:59:00Z',
    finishedAt: '2026-11-27T12:00:05Z',
    outcome: 'Succeeded',
    backupFile: 'orders-20261127T120000Z.dump',
  },
];

describe('kubectl schemaops: reading', () => {
  beforeAll(async () => {
    await awaitingApproval('orders');
    await api.patchStatus('orders', {
      workload: { kind: 'Deployment', name: 'orders-api', originalReplicas: 3 },
      lastBackup: { file: backups[0]!.file, job: 'orders-backup-1', completedAt: '2026-11-27T12:00:00Z', sizeBytes: 1536 },
      backups,
      history,
      restore: {
        file: 'orders-20261126T080000Z.dump',
        source: 'Annotation',
        outcome: 'Restored',
        revision: '2_add-email',
        safetyBackup: 'orders-20261127T130000Z.dump',
        finishedAt: '2026-11-27T13:01:00Z',
      },
    });
  }, STEP_MS);

  it('status shows the phase, the conditions, the revisions, the plan, the workload, the backup and the restore', async () => {
    const status = await run('status', 'orders');
    expect(status).toMatchObject({ code: 0, stderr: '' });
    const lines = status.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'Name:         orders',
        'Namespace:    shop',
        'Phase:        AwaitingApproval',
        'Ready:        False AwaitingApproval: waiting for approval',
        'Stalled:      False Progressing',
        'Reconciling:  True AwaitingApproval: waiting for approval',
        'Target:       2_add-email',
        'Current:      3_create-orders',
        'Plan:         Down 3_create-orders -> 2_add-email: 1 migration(s), destructive',
        '              - 3_create-orders',
        `Hash:         ${PLAN_HASH}`,
        'State:        awaiting approval: kubectl schemaops approve orders',
        'Workload:     Deployment orders-api scaled down by this run; 3 replica(s) to restore',
        'Last backup:  orders-20261127T120000Z.dump (2026-11-27T12:00:00Z, 1.5 KiB)',
      ]),
    );
    expect(status.stdout).toContain('Restore:      Restored orders-20261126T080000Z.dump, revision 2_add-email');

    const json = await run('status', 'orders', '-o', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual((await api.get('orders')).status);
  });

  it('history prints status.history as an aligned table, restores included', async () => {
    const out = await run('history', 'orders');
    expect(out.code).toBe(0);
    const [header, restore, up] = out.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^FROM +TO +DIRECTION +OUTCOME +STARTED +FINISHED +DOWNTIME +BACKUP +RESTORED-FROM$/);
    expect(restore!.split(/ {3,}/)).toEqual([
      '3_create-orders',
      '2_add-email',
      'Restore',
      'Succeeded',
      '2026-11-27T13:00:00Z',
      '2026-11-27T13:01:00Z',
      '42s',
      'orders-20261127T130000Z.dump',
      'orders-20261126T080000Z.dump',
    ]);
    expect(up!.split(/ {3,}/)).toEqual([
      'base',
      '3_create-orders',
      'Up',
      'Succeeded',
      '2026-11-27T11:59:00Z',
      '2026-11-27T12:00:05Z',
      '<none>',
      'orders-20261127T120000Z.dump',
      '<none>',
    ]);
    // Every column starts at the same offset on every line.
    expect(restore!.indexOf('Restore')).toBe(header!.indexOf('DIRECTION'));
    expect(up!.indexOf('<none>')).toBe(header!.indexOf('DOWNTIME'));
    expect(parse((await run('history', 'orders', '-o', 'yaml')).stdout)).toEqual(history);
  });

  it('backups lists the backups with human sizes, their raw list with -o, and one backup per table', async () => {
    const out = await run('backups', 'orders');
    expect(out.code).toBe(0);
    const [header, first, second] = out.stdout.trimEnd().split('\n');
    expect(header!.split(/ {3,}/)).toEqual(['FILE', 'REVISION', 'PURPOSE', 'COMPLETED', 'SIZE', 'ROWS', 'TABLES', 'VERIFIED']);
    expect(first!.split(/ {3,}/)).toEqual([backups[0]!.file, '3_create-orders', 'Run', '2026-11-27T12:00:00Z', '1.5 KiB', '12', '2', 'Restore']);
    expect(second!.split(/ {3,}/)).toEqual([backups[1]!.file, '2_add-email', 'Safety', '2026-11-26T08:00:00Z', '5 MiB', '3', '1', 'Read']);
    expect(JSON.parse((await run('backups', 'orders', '-o', 'json')).stdout)).toEqual(backups);

    const tables = await run('backups', 'orders', '--tables', backups[0]!.file);
    expect(tables.code).toBe(0);
    expect(tables.stdout.trimEnd().split('\n').map((l) => l.split(/ {3,}/))).toEqual([
      ['TABLE', 'ROWS'],
      ['public.customers', '5'],
      ['public.orders', '7'],
    ]);
    const unknown = await run('backups', 'orders', '--tables', 'nope.dump');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`error: nope.dump is not one of the backups of orders (its backups: ${backups[0]!.file}, ${backups[1]!.file})`);
    const notKept = await run('backups', 'orders', '--tables', backups[1]!.file);
    expect(notKept.code).toBe(1);
    expect(notKept.stderr).toContain(`${backups[1]!.file}.counts`);
  });

  it('plan shows the plan, and --sql its exact SQL only when the ConfigMap carries the same hash', async () => {
    const summary = await run('plan', 'orders');
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain(`Hash:         ${PLAN_HASH}`);

    const missing = await run('plan', 'orders', '--sql');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ConfigMap "orders-plan" not found');
    expect(missing.stdout).toBe('');

    // As the operator writes it (created here: the operator is not running in this test).
    await api.configMap('orders-plan', { hash: `sha256:${'cd'.repeat(32)}`, 'plan.sql': 'SELECT 1;\n' });
    const stale = await run('plan', 'orders', '--sql');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain(`holds the SQL of plan sha256:${'cd'.repeat(32)}, not of ${PLAN_HASH} in status: it is stale`);
    expect(stale.stdout).toBe('');

    await api.patchConfigMap('orders-plan', { hash: PLAN_HASH, 'plan.sql': PLAN_SQL });
    const sql = await run('plan', 'orders', '--sql');
    expect(sql).toMatchObject({ code: 0, stdout: PLAN_SQL, stderr: '' });
    expect(JSON.parse((await run('plan', 'orders', '--sql', '-o', 'json')).stdout)).toMatchObject({
      hash: PLAN_HASH,
      direction: 'Down',
      sql: PLAN_SQL,
    });
  });

  it('refuses with a clear message and exit 1 when there is no such object or no plan, and exit 2 on usage errors', async () => {
    expect(await run('status', 'ghost')).toMatchObject({
      code: 1,
      stderr: 'error: schemamigration "ghost" in namespace "shop" not found\n',
    });
    await api.create('idle', specOf('latest'));
    const noPlan = await run('plan', 'idle');
    expect(noPlan.code).toBe(1);
    expect(noPlan.stderr).toContain('idle has no plan in status');
    expect((await run('status', 'orders', '-o', 'xml')).code).toBe(2);
    expect((await run('status')).code).toBe(2);
    // -n picks another namespace than the context's.
    expect((await run('status', 'orders', '-n', 'default')).stderr).toContain('in namespace "default" not found');
  });
});

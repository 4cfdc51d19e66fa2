import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  installOperator,
  startTestCluster,
  waitFor,
  type Json,
  type TestCluster,
} from '../localcluster/support.js';
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
/** As the operator writes it to <name>-plan (test/plugin/operator.test.ts reads the operator's own). */
const PLAN_SQL = `-- plan ${PLAN_HASH}: down 3_create-orders -> 2_add-email

-- segment 1 of 1 (one transaction)
-- 3_create-orders.sql:4
DROP TABLE orders;
-- (records 3_create-orders as rolled back)
`;

/** An object the operator has planned a rollback for and waits on approval. */
async function awaitingApproval(name: string): Promise<Json> {
  const created = await api.create(name, specOf('2_add-email'));
  const generation = created.metadata.generation;
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
      summary: {
        statements: 1,
        kinds: [{ kind: 'Drop', count: 1 }],
        destructive: [{ at: '3_create-orders.sql:4', statement: 'DROP TABLE orders', rows: 7 }],
      },
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
    planHash: PLAN_HASH,
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
      lastBackup: {
        file: backups[0]!.file,
        job: 'orders-backup-1',
        completedAt: '2026-11-27T12:00:00Z',
        sizeBytes: 1536,
      },
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
        'Statements:   1 (Drop 1)',
        'At stake:     3_create-orders.sql:4 DROP TABLE orders (7 rows)',
        `Hash:         ${PLAN_HASH}`,
        'State:        awaiting approval: kubectl schemaops approve orders',
        'Workload:     Deployment orders-api scaled down by this run; 3 replica(s) to restore',
        'Last backup:  orders-20261127T120000Z.dump (2026-11-27T12:00:00Z, 1.5 KiB)',
      ]),
    );
    expect(status.stdout).toContain(
      'Restore:      Restored orders-20261126T080000Z.dump, revision 2_add-email',
    );

    const json = await run('status', 'orders', '-o', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual((await api.get('orders')).status);
  });

  it('history prints status.history as an aligned table, restores included', async () => {
    const out = await run('history', 'orders');
    expect(out.code).toBe(0);
    const [header, restore, up] = out.stdout.trimEnd().split('\n');
    expect(header).toMatch(
      /^FROM +TO +DIRECTION +OUTCOME +STARTED +FINISHED +DOWNTIME +BACKUP +RESTORED-FROM +PLAN-HASH$/,
    );
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
      PLAN_HASH,
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
    expect(header!.split(/ {3,}/)).toEqual([
      'FILE',
      'REVISION',
      'PURPOSE',
      'COMPLETED',
      'SIZE',
      'ROWS',
      'TABLES',
      'VERIFIED',
    ]);
    expect(first!.split(/ {3,}/)).toEqual([
      backups[0]!.file,
      '3_create-orders',
      'Run',
      '2026-11-27T12:00:00Z',
      '1.5 KiB',
      '12',
      '2',
      'Restore',
    ]);
    expect(second!.split(/ {3,}/)).toEqual([
      backups[1]!.file,
      '2_add-email',
      'Safety',
      '2026-11-26T08:00:00Z',
      '5 MiB',
      '3',
      '1',
      'Read',
    ]);
    expect(JSON.parse((await run('backups', 'orders', '-o', 'json')).stdout)).toEqual(backups);

    const tables = await run('backups', 'orders', '--tables', backups[0]!.file);
    expect(tables.code).toBe(0);
    expect(
      tables.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/ {3,}/)),
    ).toEqual([
      ['TABLE', 'ROWS'],
      ['public.customers', '5'],
      ['public.orders', '7'],
    ]);
    const unknown = await run('backups', 'orders', '--tables', 'nope.dump');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      `error: nope.dump is not one of the backups of orders (its backups: ${backups[0]!.file}, ${backups[1]!.file})`,
    );
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
    expect(stale.stderr).toContain(
      `holds the SQL of plan sha256:${'cd'.repeat(32)}, not of ${PLAN_HASH} in status: it is stale`,
    );
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
    expect((await run('status', 'orders', '-n', 'default')).stderr).toContain(
      'in namespace "default" not found',
    );
  });
});

const annotations = async (name: string): Promise<Record<string, string>> =>
  (await api.get(name)).metadata.annotations ?? {};

describe('kubectl schemaops: acting', () => {
  it('approve shows the plan and its SQL, refuses without a terminal or --yes, then writes exactly the hash shown', async () => {
    await awaitingApproval('billing');
    await api.configMap('billing-plan', { hash: PLAN_HASH, 'plan.sql': PLAN_SQL });

    const unconfirmed = await run('approve', 'billing');
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stdout).toContain(`Hash:         ${PLAN_HASH}`);
    expect(unconfirmed.stdout).toContain('DROP TABLE orders;');
    expect(unconfirmed.stderr).toContain('not confirmed (stdin is not a terminal); pass --yes to confirm');
    expect(await annotations('billing')).not.toHaveProperty(['schemaops.dev/approve']);

    const approved = await run('approve', 'billing', '--yes');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`billing: approved plan ${PLAN_HASH}`);
    expect((await annotations('billing'))['schemaops.dev/approve']).toBe(PLAN_HASH);

    // A run already under way has nothing left to approve.
    await api.patchStatus('billing', { plan: { startedAt: '2026-11-27T14:00:00Z' } });
    const started = await run('approve', 'billing', '--yes');
    expect(started.code).toBe(1);
    expect(started.stderr).toContain('already under way (since 2026-11-27T14:00:00Z)');
  });

  it('approve asks on a terminal, and approves nothing when the plan changed while it asked', async () => {
    await awaitingApproval('asked');
    const changed = startPlugin(['approve', 'asked'], env, true);
    await waitFor(() => changed.stdout().includes('[y/N]'), { timeoutMs: 20_000, what: 'the question' });
    const otherHash = `sha256:${'ef'.repeat(32)}`;
    await api.patchStatus('asked', { plan: { hash: otherHash } });
    changed.child.stdin!.write('y\n');
    const refused = await changed.exited;
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('asked changed since its plan was shown');
    expect(await annotations('asked')).not.toHaveProperty(['schemaops.dev/approve']);

    const asked = startPlugin(['approve', 'asked'], env, true);
    await waitFor(() => asked.stdout().includes(`Approve plan ${otherHash} of asked? [y/N]`), {
      timeoutMs: 20_000,
      what: 'the question',
    });
    asked.child.stdin!.write('y\n');
    expect((await asked.exited).code).toBe(0);
    expect((await annotations('asked'))['schemaops.dev/approve']).toBe(otherHash);
  });

  it('approve without the SQL ConfigMap still shows the plan and says why the SQL is missing', async () => {
    await awaitingApproval('nosql');
    const approved = await run('approve', 'nosql', '--yes');
    expect(approved.code).toBe(0);
    expect(approved.stderr).toContain('warning: the SQL cannot be shown: ConfigMap "nosql-plan" not found');
    expect((await annotations('nosql'))['schemaops.dev/approve']).toBe(PLAN_HASH);
  });

  it('retry sets the retry annotation to the time of the request', async () => {
    await api.create('retried', specOf('latest'));
    const before = Date.now();
    const out = await run('retry', 'retried');
    expect(out.code).toBe(0);
    const value = (await annotations('retried'))['schemaops.dev/retry']!;
    expect(Date.parse(value)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(value)).toBeLessThanOrEqual(Date.now());
    expect(out.stdout).toContain(`schemaops.dev/retry=${value}`);
  });

  it('restore refuses a file that is not one of status.backups, and restores a listed one with --yes', async () => {
    await api.create('restored', specOf('latest'));
    await api.patchStatus('restored', { backups });
    const unknown = await run('restore', 'restored', '--backup', 'other.dump', '--yes');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      `error: other.dump is not one of the backups of restored (its backups: ${backups[0]!.file}, ${backups[1]!.file})\n`,
    );
    expect(await annotations('restored')).not.toHaveProperty(['schemaops.dev/restore']);

    const unconfirmed = await run('restore', 'restored', '--backup', backups[1]!.file);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stdout).toContain('a safety backup of the database as it is now is taken');
    expect(await annotations('restored')).not.toHaveProperty(['schemaops.dev/restore']);

    const out = await run('restore', 'restored', '--backup', backups[1]!.file, '--yes');
    expect(out.code).toBe(0);
    expect((await annotations('restored'))['schemaops.dev/restore']).toBe(backups[1]!.file);
  });
});

/** Starts `wait` and resolves once it watches (it says so on stderr with --verbose). */
async function waiting(name: string, ...args: string[]) {
  const waiter = startPlugin(['wait', name, '--verbose', ...args], env);
  await waitFor(() => waiter.stderr().includes('watching schemamigration/'), {
    timeoutMs: 20_000,
    what: 'the watch',
  });
  return waiter;
}

describe('kubectl schemaops wait', () => {
  it('returns 1 within a second of a Stalled write for the current generation, printing reason and message', async () => {
    const created = await api.create('stalls', specOf('latest'));
    const generation = created.metadata.generation;
    // A Stalled condition of an older generation is history, not an answer.
    await api.patchStatus('stalls', {
      conditions: conditions('stalled', 'InvalidSpec', generation - 1, 'old'),
    });
    const waiter = await waiting('stalls', '--timeout', '60s');
    expect(waiter.child.exitCode).toBeNull();
    const wrote = Date.now();
    await api.patchStatus('stalls', {
      phase: 'Stalled',
      conditions: conditions(
        'stalled',
        'DataLossNotAllowed',
        generation,
        'the plan can lose data:\nDROP TABLE orders (7 rows)',
      ),
    });
    const exit = await waiter.exited;
    expect(exit.code).toBe(1);
    expect(exit.at - wrote).toBeLessThan(1000);
    expect(exit.stderr).toContain(
      'error: stalls is stalled: it cannot go on without a human: DataLossNotAllowed: the plan can lose data:\nDROP TABLE orders (7 rows)',
    );
  });

  it('returns 1 for RestoredFromBackup, 0 on Ready for the current generation only, and 2 on timeout', async () => {
    const created = await api.create('waited', specOf('latest'));
    const generation = created.metadata.generation;
    await api.patchStatus('waited', {
      conditions: conditions('stalled', 'RestoredFromBackup', generation, 'restored x.dump'),
    });
    const restored = await run('wait', 'waited', '--timeout', '10s');
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(
      'was restored from a backup and waits for a human: RestoredFromBackup: restored x.dump',
    );

    // Ready for the previous generation: still waiting, until the timeout.
    await api.patchStatus('waited', { conditions: conditions('ready', 'AtTargetRevision', generation) });
    const patched = (
      await t.kubectl([
        '-n',
        NS,
        'patch',
        'smig',
        'waited',
        '--type=merge',
        '-p',
        '{"spec":{"targetRevision":"base"}}',
      ])
    ).code;
    expect(patched).toBe(0);
    const timedOut = await run('wait', 'waited', '--timeout', '1500ms');
    expect(timedOut.code).toBe(2);
    expect(timedOut.stderr).toContain('timed out after 1.5s');

    const waiter = await waiting('waited', '--timeout', '60s');
    await api.patchStatus('waited', { conditions: conditions('ready', 'AtTargetRevision', generation + 1) });
    const ready = await waiter.exited;
    expect(ready.code).toBe(0);
    expect(ready.stdout).toBe('schemamigration/waited condition met\n');
  });
});

/** Migration files whose numbers sort differently as text (10 < 2) than as numbers (2 < 10). */
const files = {
  '1_create-customers.sql':
    '-- Up Migration\nCREATE TABLE customers (id int);\n-- Down Migration\nDROP TABLE customers;\n',
  '2_add-email.sql':
    '-- Up Migration\nALTER TABLE customers ADD email text;\n-- Down Migration\nALTER TABLE customers DROP email;\n',
  '10_create-orders.sql':
    '-- Up Migration\nCREATE TABLE orders (id int);\n-- Down Migration\nDROP TABLE orders;\n',
};

/** An object at 10_create-orders and Ready, as the operator leaves it. */
async function atLatest(name: string, migrations: Json): Promise<void> {
  const created = await api.create(name, specOf('latest', migrations));
  const generation = created.metadata.generation;
  await api.patchStatus(name, {
    observedGeneration: generation,
    phase: 'Ready',
    currentRevision: '10_create-orders',
    conditions: conditions('ready', 'AtTargetRevision', generation),
  });
}

/** Plays the operator: once the spec has a new generation, reports `status` for it. */
async function operatorReacts(
  name: string,
  after: number,
  status: (generation: number) => Json,
): Promise<number> {
  const generation = await waitFor(
    async () => {
      const g = (await api.get(name)).metadata.generation;
      return g > after ? g : undefined;
    },
    { timeoutMs: 20_000, what: `a new generation of ${name}` },
  );
  await api.patchStatus(name, status(generation));
  return generation;
}

const dataLossMessage =
  'the plan can lose data; set spec.policy.allowDataLoss: true to allow it:\nDROP TABLE orders: 7 rows';

describe('kubectl schemaops rollback', () => {
  beforeAll(async () => {
    await api.configMap(
      'migrations-a',
      { '1_create-customers.sql': files['1_create-customers.sql'] },
      { set: 'shop' },
    );
    await api.configMap(
      'migrations-b',
      { '2_add-email.sql': files['2_add-email.sql'], '10_create-orders.sql': files['10_create-orders.sql'] },
      { set: 'shop' },
    );
  }, STEP_MS);

  it('rolls back one migration (-1, by number), shows the data-loss refusal and allows it with --yes', async () => {
    await atLatest('rb', { configMaps: [{ name: 'migrations-a' }, { name: 'migrations-b' }] });
    const rollback = startPlugin(['rollback', 'rb', '--to', '-1', '--yes', '--timeout', '30s'], env);
    const refused = await operatorReacts('rb', 1, (g) => ({
      phase: 'Stalled',
      conditions: conditions('stalled', 'DataLossNotAllowed', g, dataLossMessage),
    }));
    expect((await api.get('rb')).spec.targetRevision).toBe('2_add-email');
    await operatorReacts('rb', refused, (g) => ({
      phase: 'Migrating',
      conditions: conditions(
        'progressing',
        'RollingBack',
        g,
        'rolling back 1 migration(s): 10_create-orders -> 2_add-email',
      ),
    }));
    const exit = await rollback.exited;
    expect(exit).toMatchObject({ code: 0, stderr: '' });
    expect(exit.stdout.split('\n')).toEqual([
      'rb: spec.targetRevision set to 2_add-email (was latest; the database is at 10_create-orders)',
      `the operator refused: ${dataLossMessage.split('\n')[0]}`,
      dataLossMessage.split('\n')[1],
      `rb: spec.policy.allowDataLoss set to true (generation ${refused + 1})`,
      'the operator is rolling back (RollingBack: rolling back 1 migration(s): 10_create-orders -> 2_add-email); follow with: kubectl schemaops wait rb',
      '',
    ]);
    expect((await api.get('rb')).spec.policy?.allowDataLoss).toBe(true);
  });

  it('does not allow data loss without a terminal or --yes, and says so', async () => {
    await atLatest('rb-ask', { selector: { matchLabels: { set: 'shop' } } });
    const rollback = startPlugin(['rollback', 'rb-ask', '--to', '-2', '--timeout', '30s'], env);
    await operatorReacts('rb-ask', 1, (g) => ({
      phase: 'Stalled',
      conditions: conditions('stalled', 'DataLossNotAllowed', g, dataLossMessage),
    }));
    const exit = await rollback.exited;
    expect(exit.code).toBe(1);
    expect(exit.stdout).toContain('rb-ask: spec.targetRevision set to 1_create-customers');
    expect(exit.stdout).toContain('DROP TABLE orders: 7 rows');
    expect(exit.stderr).toContain('not confirmed (stdin is not a terminal); pass --yes to confirm');
    const object = await api.get('rb-ask');
    expect(object.spec.targetRevision).toBe('1_create-customers');
    expect(object.spec.policy?.allowDataLoss ?? false).toBe(false);
  });

  it('goes back to base, refuses to go further, and reports when the operator is done', async () => {
    await atLatest('rb-base', { selector: { matchLabels: { set: 'shop' } } });
    const tooFar = await run('rollback', 'rb-base', '--to', '-4');
    expect(tooFar.code).toBe(1);
    expect(tooFar.stderr).toContain(
      'cannot go back 4 migration(s) from 10_create-orders: only 3 are applied',
    );
    expect((await api.get('rb-base')).spec.targetRevision).toBe('latest');

    const rollback = startPlugin(['rollback', 'rb-base', '--to', '-3', '--timeout', '30s'], env);
    await operatorReacts('rb-base', 1, (g) => ({
      phase: 'Ready',
      currentRevision: 'base',
      conditions: conditions('ready', 'AtTargetRevision', g),
    }));
    const exit = await rollback.exited;
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('rb-base: spec.targetRevision set to base');
    expect(exit.stdout).toContain('rb-base is at base: the rollback is done');
  });

  it('exits 1 with the reason when the operator refuses the rollback for another reason', async () => {
    await atLatest('rb-refused', { configMaps: [{ name: 'migrations-b' }, { name: 'migrations-a' }] });
    const rollback = startPlugin(['rollback', 'rb-refused', '--to', '2_add-email', '--timeout', '30s'], env);
    await operatorReacts('rb-refused', 1, (g) => ({
      phase: 'Stalled',
      conditions: conditions(
        'stalled',
        'IrreversibleMigration',
        g,
        '10_create-orders.sql has no down section',
      ),
    }));
    const exit = await rollback.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr).toBe(
      'error: the operator refused the rollback of rb-refused: IrreversibleMigration: 10_create-orders.sql has no down section\n',
    );
  });
});

describe('kubectl-schemaops on an older Node.js', () => {
  it('says in one line that it needs Node 24, and exits 1', async () => {
    const pretend = `data:text/javascript,${encodeURIComponent(
      "Object.defineProperty(process, 'version', { value: 'v20.0.0' });" +
        "Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '20.0.0' } });",
    )}`;
    const old = { ...env, NODE_OPTIONS: `--import=${pretend}` };
    expect(await plugin(['status', 'orders'], old)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'kubectl-schemaops needs Node.js 24 or newer; this is v20.0.0\n',
    });
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLeaseClient } from '../../src/kube/lease.js';
import { currentRevision } from '../../src/migrations/engine.js';
import { files } from '../controller/fixtures.js';
import {
  converge,
  createFixture,
  createMigration,
  isReady,
  mergePatch,
  migrationSpec,
  startHarness,
  type Harness,
} from '../controller/harness.js';
import { startOperatorProcess } from '../support/operator-process.js';
import { waitFor } from '../support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = ['--import', join(root, 'scripts/register-ts.js'), join(root, 'src/main.ts')];

let h: Harness;
let kubeconfigPath: string;
beforeAll(async () => {
  h = await startHarness();
  kubeconfigPath = join(mkdtempSync(join(tmpdir(), 'operator-process-')), 'kubeconfig');
  h.cluster.writeKubeconfig(kubeconfigPath);
});
afterAll(async () => {
  await h.stop();
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...cli, ...args],
      { cwd: root, env: { ...process.env, ...env } },
      (err, _out, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
    );
  });
}

/** `schemaops operator` as a child process on free ports, with everything it prints kept. */
const startOperator = (args: string[] = []) => startOperatorProcess(kubeconfigPath, { args });

describe('schemaops operator as a process', () => {
  it.each([
    [['--max-concurrent-reconciles', '0'], {}, '--max-concurrent-reconciles'],
    [['--metrics-addr', 'everywhere'], {}, '--metrics-addr'],
    [[], { SCHEMAOPS_RESYNC_PERIOD: 'often' }, 'SCHEMAOPS_RESYNC_PERIOD'],
    [['--no-such-flag'], {}, "unknown option '--no-such-flag'"],
  ])('exits 2 on a bad setting %j %j, naming it', async (args, env, named) => {
    const result = await run(['operator', ...args], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(named);
  });

  it('on SIGTERM during a migration, lets it finish, starts no further step, releases the lease and exits 0', async () => {
    const slow = {
      ...files,
      '3_create-customers.sql': files['3_create-customers.sql']!.replace(
        '-- Down Migration',
        'SELECT pg_sleep(1.5);\n-- Down Migration',
      ),
    };
    const options = { files: slow, workload: { kind: 'Deployment' as const, replicas: 2 } };
    const f = await createFixture(h, options);
    const lease = { namespace: 'default', name: 'schemaops-sigterm' };
    const started = startOperator([
      '--leader-elect',
      'true',
      '--lease-name',
      lease.name,
      '--lease-namespace',
      lease.namespace,
    ]);
    const { child: operator } = started;
    const output = () => started.output();
    const exited = new Promise<number | null>((resolve) => operator.once('exit', resolve));
    await createMigration(h, f, migrationSpec(options));
    await waitFor(async () => (await h.kube.getSchemaMigration(f.ref))?.status?.phase === 'Migrating', {
      timeoutMs: 20_000,
      what: 'the run to reach the migration',
    });
    operator.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toContain('operator stopped');
    // Its log as a person or a log pipeline reads it: every line JSON, with a level name and an ISO-8601 time.
    const lines = output()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level?: unknown; time?: unknown });
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) {
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(line.level);
      expect(line.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }

    const revision = await currentRevision({ databaseUrl: f.databaseUrl });
    expect(['base', '3_create-customers']).toContain(revision);
    const object = await h.kube.getSchemaMigration(f.ref);
    expect(object?.status?.currentRevision).toBe(revision);
    // The restore step did not start, and the next leader need not wait for the lease to expire.
    const deployment = { namespace: f.namespace, name: 'orders-api' };
    expect((await h.kube.getWorkload('Deployment', deployment))?.replicas).toBe(0);
    expect((await createLeaseClient(h.kc).get(lease))?.holderIdentity).toBe('');

    // A fresh operator finishes the run.
    await converge(h, f, isReady);
    expect(await currentRevision({ databaseUrl: f.databaseUrl })).toBe('3_create-customers');
    expect(
      await h.kube.getWorkload('Deployment', { namespace: f.namespace, name: 'orders-api' }),
    ).toMatchObject({
      replicas: 2,
    });
  });

  it('with leader election, exactly one of two instances acts, and the other takes over when the leader dies', async () => {
    const options = { files, workload: { kind: 'Deployment' as const, replicas: 2 } };
    const f = await createFixture(h, options);
    const instances = ['a', 'b'].map(() =>
      startOperator([
        '--leader-elect',
        'true',
        '--lease-name',
        'schemaops-test',
        '--lease-namespace',
        'default',
        '--lease-duration',
        '3s',
        '--renew-deadline',
        '2s',
        '--retry-period',
        '250ms',
      ]),
    );
    try {
      const leader = await waitFor(() => instances.find((i) => i.output().includes('"msg":"watching"')), {
        timeoutMs: 20_000,
        what: 'a leader',
      });
      await createMigration(h, f, migrationSpec(options, { targetRevision: '2_add-note' }));
      await waitFor(
        async () => (await h.kube.getSchemaMigration(f.ref))?.status?.currentRevision === '2_add-note',
        {
          timeoutMs: 20_000,
          what: 'the leader to migrate',
        },
      );
      const standby = instances.find((i) => i !== leader)!;
      expect(standby.output()).not.toContain('"msg":"watching"');

      leader.child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor(() => standby.output().includes('"msg":"watching"'), {
        timeoutMs: 10_000,
        what: 'the standby to lead',
      });
      expect(Date.now() - killedAt).toBeLessThan(3_000 + 2_000);
      await h.custom.patchNamespacedCustomObject(
        {
          group: 'schemaops.dev',
          version: 'v1alpha1',
          plural: 'schemamigrations',
          namespace: f.namespace,
          name: 'orders',
          body: { spec: { targetRevision: 'latest' } },
        },
        mergePatch,
      );
      await waitFor(
        async () => {
          const object = await h.kube.getSchemaMigration(f.ref);
          return isReady(object) && object?.status?.currentRevision === '3_create-customers';
        },
        { timeoutMs: 20_000, what: 'the new leader to converge the change' },
      );
    } finally {
      for (const i of instances) if (i.child.exitCode === null) i.child.kill('SIGKILL');
    }
  });
});
